"""Exercise 8, file upload with a JSON header: send file_size, file_name
and md5, then the bytes; the server checks the md5 and keeps the file.

The classic version sent one header and then the whole file with sendall,
and the server wrote what came to the name it was given. Here the header is
a sockit frame (file.put with file_name as the path, file_size and "md5":
true), the bytes travel as file.write frames of 1 MiB (several in flight),
and file.put.end carries the md5: the server publishes the file only if
the bytes it stored hash to it, and refuses names like ../../etc/passwd.

Usage:  upload_client.py ADDRESS FILE   (username and password on stdin)
Serve it with:  sockit user add alice   (once)   then   sockit serve
"""
import hashlib
import os
import sys

from sockit_client import Client, ServerError

address, path = sys.argv[1], sys.argv[2]
name, password = input("username: ").strip(), input("password: ")
CHUNK, IN_FLIGHT = 1 << 20, 4

try:
    with Client.connect(address) as client, open(path, "rb") as f:
        client.login(name, password)
        md5, size = hashlib.md5(), os.path.getsize(path)
        # The classic header: file_name, file_size, and "send me your md5".
        start = client.request("file.put", path=os.path.basename(path),
                               file_size=size, md5=True).header
        pending, offset = [], 0
        while offset < size or pending:
            while offset < size and len(pending) < IN_FLIGHT:
                block = f.read(CHUNK)
                md5.update(block)
                pending.append(client.send("file.write", block,
                                           handle=start["handle"], offset=offset))
                offset += len(block)
            client.receive(pending.pop(0))
        done = client.request("file.put.end", handle=start["handle"],
                              md5=md5.hexdigest()).header
except ServerError as e:  # a wrong password, an existing file, a bad md5 ...
    print("upload refused:", e.message)
    sys.exit(1)
print(f"uploaded {done['path']}: {done['file_size']} bytes, md5 {done['md5']}")
