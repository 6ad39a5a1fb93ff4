#!/usr/bin/env python3
"""A course-style pi2pi peer, written from the course handouts (see docs/protocol.md) for the end-to-end tests.

It does what a student's Python 3 program following the TPRG 2131 handout
does, byte-level quirks included, so that the Go programs are tested against
them:

  * one request per TCP connection, answered with recv(1024) + json.loads;
  * replies sent with send(json.dumps(...).encode()) and NO newline;
  * the server keeps the handout's two dicts, `credentials` and `logged_in`,
    compares the passcode as an opaque string, can spell the grant
    "Granted", and sends NOTFOUND with "location" instead of "address";
  * the terminal sends AUTHREQ/LOOKUPREQ to the server, listens on 8085,
    sends CONNECTREQ (optionally as "Ali"), and chats with input()->send()
    of lines WITHOUT newline and recv(1024)->print().

Standard library only. Everything goes to stdout (what a user would see),
with flush, so a test can read it line by line.

  peer.py server --listen 127.0.0.1:8082 --user ali=00123 --user bianca=22456
  peer.py server --listen 127.0.0.1:8082 --dummy
  peer.py terminal --server 127.0.0.1:8082 --listen 127.0.0.4:8085 \
          --user ali --passcode 00123 [--call bianca] [--initiator-name Ali]

In the terminal role the chat text comes from stdin, one line per message;
end of stdin ends the chat (the handout's CTRL-C). The program exits after
one chat.

With --encrypt the terminal does the seeds' optional encryption: the
server's LOOKUPREPLY gives it the peer's key ("encryptionkey"), the caller
from its own lookup, the callee from the lookup that checks the caller, and
every chat message is encrypted with it; what arrives is decrypted with the
terminal's own key (--key, the one its user has in the server's
credentials table). The seeds ask for "symmetric encryption ... using the
cryptography module" but name no cipher; this peer keeps to the standard
library, so it stands in with what a student could write from hashlib and
hmac (see seal()). It is a test peer's stand-in, not a recommendation:
pi2pi's own terminals encrypt with TLS 1.3 in secure mode.

  peer.py terminal ... --encrypt --key crypto [--debug]
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import socket
import sys
import threading


def say(*args):
    # One write per line, so that a reader never sees half of it.
    sys.stdout.write(" ".join(str(a) for a in args) + "\n")
    sys.stdout.flush()


def split_addr(s, default_port):
    host, _, port = s.rpartition(":")
    if not host:
        return s, default_port
    return host, int(port)


# ---------------------------------------------------------------- server role


def run_server(args):
    # The handout's tables: credentials[user] = [passcode, key].
    credentials = {}
    for u in args.user:
        name, _, rest = u.partition("=")
        passcode, _, key = rest.partition(":")
        credentials[name] = [passcode, key or "crypto"]
    logged_in = {}
    granted = args.granted_spelling

    host, port = split_addr(args.listen, 8082)
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(128)
    say("Server listening on", "%s:%d" % srv.getsockname())
    while True:
        conn, addr = srv.accept()
        try:
            conn.settimeout(5)
            data = conn.recv(1024)  # Receive bytes from other side
            if not data:
                continue
            recv_string = data.decode("UTF-8")
            recv_dict = json.loads(recv_string)
            msgtype = recv_dict.get("msgtype")
            if msgtype == "AUTHREQ":
                user = recv_dict.get("userid")
                ok = False
                if args.dummy:
                    ok = user == "ali"
                elif user in credentials:
                    ok = credentials[user][0] == recv_dict.get("passcode")
                if ok:
                    logged_in[user] = addr[0]
                    reply = {"msgtype": "AUTHREPLY", "status": granted}
                else:
                    reply = {"msgtype": "AUTHREPLY", "status": "REFUSED"}
                say("AUTHREQ", user, "->", reply["status"])
            elif msgtype == "LOOKUPREQ":
                user = recv_dict.get("userid")
                target = recv_dict.get("lookup")
                if args.dummy and user == "ali" and target == "bianca":
                    reply = {"msgtype": "LOOKUPREPLY", "status": "SUCCESS",
                             "answer": "bianca", "address": "192.168.1.23",
                             "encryptionkey": "1234"}
                elif not args.dummy and user in logged_in and target in logged_in:
                    reply = {"msgtype": "LOOKUPREPLY", "status": "SUCCESS",
                             "answer": target, "address": logged_in[target],
                             "encryptionkey": credentials.get(target, ["", ""])[1]}
                else:
                    reply = {"msgtype": "LOOKUPREPLY", "status": "NOTFOUND",
                             "answer": "", "location": "", "encryptionkey": ""}
                say("LOOKUPREQ", user, target, "->", reply["status"])
            else:
                say("unknown msgtype", msgtype)
                continue
            conn.send(json.dumps(reply).encode("UTF-8"))  # no newline
        except (ValueError, OSError, AttributeError) as e:
            say("bad request from", addr[0], type(e).__name__)
        finally:
            conn.close()


# ------------------------------------------------------ optional encryption
#
# Each message: base64(nonce || ciphertext || tag) and a newline, where
#   k          = SHA-256(key string)
#   enc, mac   = HMAC-SHA256(k, "encrypt"), HMAC-SHA256(k, "authenticate")
#   ciphertext = text XOR (HMAC-SHA256(enc, nonce || counter) for counter 0, 1, ...)
#   tag        = HMAC-SHA256(mac, nonce || ciphertext)
# with a fresh random 16-byte nonce per message.


def _subkeys(key_string):
    k = hashlib.sha256(key_string.encode("UTF-8")).digest()
    return (hmac.new(k, b"encrypt", hashlib.sha256).digest(),
            hmac.new(k, b"authenticate", hashlib.sha256).digest())


def _keystream(enc, nonce, n):
    out = bytearray()
    counter = 0
    while len(out) < n:
        out += hmac.new(enc, nonce + counter.to_bytes(8, "big"), hashlib.sha256).digest()
        counter += 1
    return bytes(out[:n])


def seal(key_string, text):
    """Encrypt one chat message for the holder of key_string."""
    enc, mac = _subkeys(key_string)
    nonce = os.urandom(16)
    plain = text.encode("UTF-8")
    ct = bytes(a ^ b for a, b in zip(plain, _keystream(enc, nonce, len(plain))))
    tag = hmac.new(mac, nonce + ct, hashlib.sha256).digest()
    return base64.b64encode(nonce + ct + tag) + b"\n"


def unseal(key_string, token):
    """Decrypt one message; None when it was not sealed for key_string."""
    enc, mac = _subkeys(key_string)
    try:
        raw = base64.b64decode(token, validate=True)
    except ValueError:
        return None
    if len(raw) < 48:
        return None
    nonce, ct, tag = raw[:16], raw[16:-32], raw[-32:]
    if not hmac.compare_digest(tag, hmac.new(mac, nonce + ct, hashlib.sha256).digest()):
        return None
    plain = bytes(a ^ b for a, b in zip(ct, _keystream(enc, nonce, len(ct))))
    return plain.decode("UTF-8", errors="replace")


class Cipher:
    """The chat's encryption: to the peer's key, from our own."""

    def __init__(self, own_key, peer_key):
        self.own_key, self.peer_key = own_key, peer_key
        self.pending = b""

    def outgoing(self, line):
        return seal(self.peer_key, line)

    def incoming(self, data):
        """The messages completed by data, decrypted."""
        self.pending += data
        *tokens, self.pending = self.pending.split(b"\n")
        out = []
        for token in tokens:
            text = unseal(self.own_key, token.strip())
            out.append("[a message that could not be decrypted with my key]" if text is None else text)
        return out


def peer_key_of(reply):
    return reply.get("encryptionkey") or reply.get("key") or ""


# -------------------------------------------------------------- terminal role


def request(args, msg):
    """One request on its own connection, like the handout's client."""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(10)
    if args.bind:
        s.bind((args.bind, 0))
    s.connect(split_addr(args.server, 8082))
    s.send(json.dumps(msg).encode("UTF-8"))
    data = s.recv(1024)
    s.close()
    return json.loads(data.decode("UTF-8"))


def print_until_closed(conn, cipher=None, debug=False):
    """recv() -> print() until the peer hangs up."""
    while True:
        try:
            data = conn.recv(1024)
        except OSError:
            data = b""
        if not data:
            return
        if debug:
            say("Data:", data.decode("UTF-8", errors="replace").rstrip("\n"))
        if cipher is None:
            say(data.decode("UTF-8", errors="replace"))
            continue
        for text in cipher.incoming(data):
            say(text)


def chat(conn, cipher=None, debug=False):
    """input() -> send() in this thread, recv() -> print() in another."""
    done = threading.Event()

    def receive():
        print_until_closed(conn, cipher, debug)
        done.set()
        say("Connection ended")
        sys.stdout.flush()
        # The peer hung up: leave, as the handout's loop would on CTRL-C.
        import os
        os._exit(0)

    t = threading.Thread(target=receive, daemon=True)
    t.start()
    for line in sys.stdin:
        line = line.rstrip("\n")
        if not line:
            continue
        if cipher is not None:
            conn.sendall(cipher.outgoing(line))
            continue
        conn.send(line.encode("UTF-8"))  # no newline, as the handout does
    # End of input is our CTRL-C.
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    conn.close()
    if not done.wait(2):
        say("Connection ended")


def run_terminal(args):
    say("Login:", args.user)
    say("Enter passcode on keypad.")
    reply = request(args, {"msgtype": "AUTHREQ", "userid": args.user,
                           "passcode": args.passcode})
    if str(reply.get("status", "")).upper() != "GRANTED":
        say("Login refused.")
        sys.exit(1)
    say("Logged in.")

    my_ip = args.bind or split_addr(args.listen, 8085)[0]
    host, port = split_addr(args.listen, 8085)
    lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind((host, port))
    lsock.listen(5)

    if args.call:
        say("Enter destination user ID:", args.call)
        reply = request(args, {"msgtype": "LOOKUPREQ", "userid": args.user,
                               "lookup": args.call})
        if str(reply.get("status", "")).upper() != "SUCCESS":
            say("User not found.")
            sys.exit(1)
        address = reply.get("address") or reply.get("location")
        cipher = None
        if args.encrypt:
            if not peer_key_of(reply):
                say("No encryption key for", args.call)
                sys.exit(1)
            cipher = Cipher(args.key, peer_key_of(reply))
        conn = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        conn.settimeout(10)
        if my_ip:
            conn.bind((my_ip, 0))
        conn.connect((address, args.peer_port))
        conn.send(json.dumps({"msgtype": "CONNECTREQ",
                              "initiator": args.initiator_name or args.user}).encode("UTF-8"))
        data = conn.recv(1024)
        reply = json.loads(data.decode("UTF-8"))
        if str(reply.get("status", reply.get("answer", ""))).upper() != "ACCEPTED":
            say("Connection refused.")
            sys.exit(1)
        conn.settimeout(None)
        say("Connection established, type your messages")
        chat(conn, cipher, args.debug)
        return

    say("Enter destination user ID:")
    while True:
        conn, addr = lsock.accept()
        conn.settimeout(10)
        try:
            data = conn.recv(1024)
            req = json.loads(data.decode("UTF-8"))
        except (ValueError, OSError):
            conn.close()
            continue
        initiator = req.get("initiator", "")
        # Bianca makes sure the request is legitimate: her own lookup.
        reply = request(args, {"msgtype": "LOOKUPREQ", "userid": args.user,
                               "lookup": initiator})
        ok = (str(reply.get("status", "")).upper() == "SUCCESS"
              and (reply.get("address") or reply.get("location")) == addr[0]
              and (peer_key_of(reply) or not args.encrypt))
        status = "ACCEPTED" if ok else "REFUSED"
        conn.send(json.dumps({"msgtype": "CONNECTREPLY", "status": status}).encode("UTF-8"))
        if not ok:
            say("Refused connection from", initiator)
            conn.close()
            continue
        conn.settimeout(None)
        say("Connection received from user %s, type your messages" % initiator)
        if args.answer_forever:
            # Benchmarks: take chats one after another without stdin, as
            # the handout's terminal "continues to listen" after each.
            print_until_closed(conn)
            conn.close()
            say("Connection ended")
            continue
        cipher = Cipher(args.key, peer_key_of(reply)) if args.encrypt else None
        chat(conn, cipher, args.debug)
        return


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="role", required=True)

    s = sub.add_parser("server", help="course-style directory server")
    s.add_argument("--listen", default="0.0.0.0:8082")
    s.add_argument("--user", action="append", default=[],
                   help="NAME=PASSCODE[:KEY], the credentials dict (repeat)")
    s.add_argument("--dummy", action="store_true",
                   help="behave like the course test server (ali only)")
    s.add_argument("--granted-spelling", default="GRANTED",
                   help='how to spell the grant, e.g. "Granted"')

    t = sub.add_parser("terminal", help="course-style terminal")
    t.add_argument("--server", required=True, help="HOST:PORT of the server")
    t.add_argument("--listen", default="0.0.0.0:8085", help="IP:PORT to listen on")
    t.add_argument("--bind", default="", help="source IP of outgoing connections")
    t.add_argument("--user", required=True)
    t.add_argument("--passcode", default="")
    t.add_argument("--call", default="", help="user to call; otherwise wait for a call")
    t.add_argument("--initiator-name", default="",
                   help='what to send as CONNECTREQ initiator, e.g. "Ali"')
    t.add_argument("--peer-port", type=int, default=8085)
    t.add_argument("--answer-forever", action="store_true",
                   help="take chats one after another, reading no stdin")
    t.add_argument("--encrypt", action="store_true",
                   help="encrypt the chat with the keys from the LOOKUPREPLYs")
    t.add_argument("--key", default="",
                   help="with --encrypt: this user's own key, to decrypt what arrives")
    t.add_argument("--debug", action="store_true",
                   help='print what arrives as it is ("Data: ...", as the handout\'s listing 11)')

    args = p.parse_args()
    if args.role == "terminal" and args.encrypt and not args.key:
        p.error("--encrypt needs --key, this user's own key")
    if args.role == "server":
        run_server(args)
    else:
        run_terminal(args)


if __name__ == "__main__":
    main()
