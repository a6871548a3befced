// A Node.js `net` echo server: every chunk written straight back, with
// backpressure through pipe(). Usage: node node_echo.js [HOST] PORT
// Prints "listening echo/tcp HOST:PORT" once serving, like echod.
'use strict';
const net = require('net');

const args = process.argv.slice(2);
const [host, port] = args.length === 1 ? ['127.0.0.1', args[0]] : args;
const server = net.createServer((socket) => {
  socket.setNoDelay(true);
  socket.on('error', () => socket.destroy());
  socket.pipe(socket);
});
server.listen(Number(port), host, () => {
  const a = server.address();
  console.log(`listening echo/tcp ${a.address}:${a.port}`);
});
process.on('SIGTERM', () => process.exit(0));
