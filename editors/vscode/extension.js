// The archdsl extension: the TextMate grammar (package.json) plus `archdsl lsp` as the language server.
const vscode = require("vscode");
const { LanguageClient, TransportKind } = require("vscode-languageclient/node");

let client;

function activate(context) {
  const config = vscode.workspace.getConfiguration("archdsl");
  const serverOptions = {
    command: config.get("server.command", "archdsl"),
    args: config.get("server.args", ["lsp"]),
    transport: TransportKind.stdio,
  };
  const clientOptions = {
    documentSelector: [
      { scheme: "file", language: "archdsl" },
      { scheme: "untitled", language: "archdsl" },
    ],
  };
  client = new LanguageClient("archdsl", "archdsl language server", serverOptions, clientOptions);
  context.subscriptions.push(client);
  return client.start();
}

function deactivate() {
  return client ? client.stop() : undefined;
}

module.exports = { activate, deactivate };
