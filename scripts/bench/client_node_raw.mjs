// client_node_raw.mjs - the bare Node dgram client for the cold-start baseline: one request,
// one reply, exit. What `udplab client HOST PORT` does, without options, events or retries.
// Usage: node client_node_raw.mjs HOST PORT
import dgram from 'node:dgram';

const [host = '127.0.0.1', port = '1060'] = process.argv.slice(2);
const socket = dgram.createSocket('udp4');
const timer = setTimeout(() => {
  console.error('no reply');
  process.exitCode = 1;
  socket.close();
}, 2000);
socket.on('message', (msg) => {
  clearTimeout(timer);
  console.log(`The server replied ${JSON.stringify(msg.toString('latin1'))}`);
  socket.close();
});
socket.connect(Number(port), host, () => {
  socket.send(`Current time is ${new Date().toISOString()}`);
});
