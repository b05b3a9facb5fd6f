// Preloaded (node --require) into the MCP servers the tests start: @modelcontextprotocol/server-everything
// calls app.listen(PORT), which binds every interface; with this every listen() binds 127.0.0.1 only,
// so nothing outside this machine can reach a server under test.
"use strict";
const net = require("net");
const listen = net.Server.prototype.listen;
net.Server.prototype.listen = function (...args) {
  const callback = args.find((arg) => typeof arg === "function");
  if (typeof args[0] === "number" || typeof args[0] === "string") {
    return listen.call(this, { port: Number(args[0]), host: "127.0.0.1" }, callback);
  }
  if (args[0] && typeof args[0] === "object" && !args[0].path) {
    return listen.call(this, { ...args[0], host: "127.0.0.1" }, callback);
  }
  return listen.apply(this, args);
};
