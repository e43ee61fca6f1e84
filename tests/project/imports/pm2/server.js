// A stand-in for the shop's API: says where it would listen, then waits.
const port = process.argv[process.argv.indexOf("--port") + 1];
console.log(`api on port ${port} (${process.env.NODE_ENV}): ${process.env.GREETING}`);
setInterval(() => {}, 1 << 30);
