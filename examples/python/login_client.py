"""Exercise 7, login: ask for a name and a password, send them to the
sockit login service, print the verdict.

The classic version checked the pair against a local file (and ran eval()
on what the client sent). Here the server checks an argon2id hash in its
account store, throttles guessing, and answers the same for an unknown
name and a wrong password. The client is sockit's stdlib-only Python
package:  pip install ./clients/python

Serve it with:  sockit user add alice   (once)   then   sockit serve
"""
import getpass
import sys

from sockit_client import Client, ServerError

address = sys.argv[1] if len(sys.argv) > 1 else "tcp://127.0.0.1:7878"
name = input("username: ").strip()
# getpass hides the typing on a terminal; piped input is read as it comes.
password = getpass.getpass("password: ") if sys.stdin.isatty() else input("password: ")

with Client.connect(address) as client:
    try:
        reply = client.login(name, password)
    except ServerError as e:
        if e.code == "invalid_credentials":
            print("invalid username or password")
        else:  # too many attempts, a locked account, ...
            print("login refused:", e.message)
        sys.exit(1)
    print("login successful")
    print("logged in as", client.whoami()["user"], "until", reply["expires"])
