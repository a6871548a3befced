#!/usr/bin/python3
"""The course's asyncio echo server: streams, with a read/write/drain loop.

Usage: asyncio_echo.py [--uvloop] [HOST] PORT   (PORT 0 picks a free one)
Prints "listening echo/tcp HOST:PORT" once serving, like echod.
"""

import asyncio
import sys


async def handle(reader, writer):
    try:
        while True:
            data = await reader.read(65536)
            if not data:
                break
            writer.write(data)
            await writer.drain()
    except ConnectionError:
        pass
    finally:
        writer.close()


async def main(host, port):
    server = await asyncio.start_server(handle, host, port)
    addr = server.sockets[0].getsockname()
    print("listening echo/tcp %s:%d" % (addr[0], addr[1]), flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    args = sys.argv[1:]
    if args and args[0] == "--uvloop":
        import uvloop
        uvloop.install()
        args = args[1:]
    host, port = ("127.0.0.1", args[0]) if len(args) == 1 else args
    try:
        asyncio.run(main(host, int(port)))
    except KeyboardInterrupt:
        pass
