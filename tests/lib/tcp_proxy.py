"""A loopback TCP proxy whose connections a test can cut, to make the consumer reconnect.

Forwards 127.0.0.1:<free port> to 127.0.0.1:TARGET_PORT and writes its port to READY_FILE.
SIGUSR1 closes every open connection at once (the listener stays open, so the client can
reconnect); the number of connections cut so far is printed after each cut.

    /usr/bin/python3 tcp_proxy.py READY_FILE TARGET_PORT
"""

import asyncio
import signal
import sys

READY_FILE, TARGET_PORT = sys.argv[1], int(sys.argv[2])
open_writers = set()
cut_total = 0


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    try:
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", TARGET_PORT)
    except OSError:
        client_writer.close()
        return
    open_writers.update((client_writer, server_writer))
    await asyncio.gather(pipe(client_reader, server_writer), pipe(server_reader, client_writer))
    open_writers.difference_update((client_writer, server_writer))


def cut():
    global cut_total
    for writer in list(open_writers):
        writer.transport.abort()
    cut_total += len(open_writers) // 2
    open_writers.clear()
    print(f"cut, {cut_total} connections so far", flush=True)


async def main():
    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, cut)
    with open(READY_FILE, "w") as ready:
        ready.write(str(server.sockets[0].getsockname()[1]))
    async with server:
        await server.serve_forever()


asyncio.run(main())
