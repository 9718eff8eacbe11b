#!/usr/bin/env python3
"""client_py.py - the lab's client (udp_local.py's client half) for the cold-start baseline:
one request, one reply, exit. Usage: python3 client_py.py HOST PORT"""
import socket
import sys
from datetime import datetime


def client(host, port):
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.settimeout(2.0)
    text = 'Current time is {}'.format(datetime.now())
    sock.sendto(text.encode('ascii'), (host, port))
    data, address = sock.recvfrom(65535)
    print('The server {} replied {!r}'.format(address, data.decode('ascii')))


if __name__ == '__main__':
    client(sys.argv[1], int(sys.argv[2]))
