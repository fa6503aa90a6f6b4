"""A loopback TCP proxy whose connections a test can cut or stall.

Forwards 127.0.0.1:<free port> to 127.0.0.1:TARGET_PORT and writes its port to READY_FILE.
--listen ADDR listens on another loopback address, such as ::1, and the proxy prints a line for
each connection it accepts.
SIGUSR1 closes every open connection at once. The listener stays open, so the client can
reconnect, and the number of connections cut so far is printed after each cut. SIGUSR2 stalls
the connections open at that moment as --stall-after does, from the client's next bytes on.

With --stall-after BYTES, the first connection stops reading from its client once it has
forwarded BYTES bytes to the target, and keeps forwarding the target's bytes to the client. The
client then sees a peer that is alive (its frames still arrive) but takes no data, once the
socket buffers between them are full. Later connections are forwarded in full, unless
--stall-all stalls each of them the same way.

With --client-rate BYTES_PER_S, every connection forwards its client's bytes at most that fast,
through a small receive buffer, as a slow network would: the client's bytes keep moving, but
slower than it can write them. --server-rate BYTES_PER_S does the same to the target's bytes on
their way to the client.

    /usr/bin/python3 tcp_proxy.py [--listen ADDR] [--stall-after BYTES [--stall-all]] \
        [--client-rate BYTES_PER_S] [--server-rate BYTES_PER_S] READY_FILE TARGET_PORT
"""

import argparse
import asyncio
import ipaddress
import os
import signal
import socket
import time

parser = argparse.ArgumentParser()
parser.add_argument("--listen", default="127.0.0.1")
parser.add_argument("--stall-after", type=int, default=-1)
parser.add_argument("--stall-all", action="store_true")
parser.add_argument("--client-rate", type=int, default=0)
parser.add_argument("--server-rate", type=int, default=0)
parser.add_argument("ready_file")
parser.add_argument("target_port", type=int)
args = parser.parse_args()

open_writers = set()
stall_signals = set()  # one event per open connection, set by SIGUSR2
cut_total = 0
connections = 0


async def pipe(reader, writer, stall_after=-1, rate=0, stall_signal=None):
    forwarded = 0
    started = time.monotonic()
    try:
        while data := await reader.read(16384 if rate else 65536):
            if stall_signal is not None and stall_signal.is_set():
                print("stalled on SIGUSR2", flush=True)
                await asyncio.Event().wait()  # never set: the client's bytes are not read
            if 0 <= stall_after <= forwarded + len(data):
                writer.write(data[: stall_after - forwarded])
                print(f"stalled after {stall_after} bytes", flush=True)
                await asyncio.Event().wait()  # never set: the client's bytes are not read
            forwarded += len(data)
            writer.write(data)
            await writer.drain()
            if rate:
                await asyncio.sleep(max(0.0, started + forwarded / rate - time.monotonic()))
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        writer.close()


async def handle(client_reader, client_writer):
    global connections
    connections += 1
    print(f"connection {connections} from {client_writer.get_extra_info('peername')[0]}",
          flush=True)
    stall_after = args.stall_after if connections == 1 or args.stall_all else -1
    if args.client_rate:
        client_writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    try:
        server_reader, server_writer = await asyncio.open_connection(
            "127.0.0.1", args.target_port)
    except OSError:
        client_writer.close()
        return
    if args.server_rate:
        server_writer.get_extra_info("socket").setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    open_writers.update((client_writer, server_writer))
    stall_signal = asyncio.Event()
    stall_signals.add(stall_signal)
    await asyncio.gather(
        pipe(client_reader, server_writer, stall_after, args.client_rate, stall_signal),
        pipe(server_reader, client_writer, -1, args.server_rate))
    stall_signals.discard(stall_signal)
    open_writers.difference_update((client_writer, server_writer))


def cut():
    global cut_total
    for writer in list(open_writers):
        writer.transport.abort()
    cut_total += len(open_writers) // 2
    open_writers.clear()
    print(f"cut, {cut_total} connections so far", flush=True)


def stall_open_connections():
    for event in stall_signals:
        event.set()


async def main():
    if not ipaddress.ip_address(args.listen).is_loopback:
        parser.error(f"--listen {args.listen} is not a loopback address")
    server = await asyncio.start_server(handle, args.listen, 0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR1, cut)
    asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, stall_open_connections)
    with open(args.ready_file + ".tmp", "w") as ready:
        ready.write(str(server.sockets[0].getsockname()[1]))
    os.rename(args.ready_file + ".tmp", args.ready_file)
    async with server:
        await server.serve_forever()


asyncio.run(main())
