"""Extract the shell examples of the documentation and run them for real.

Used by test_doc_examples.py; `python3 tests/python/doc_examples.py [FILE...]`
runs them by hand and prints each command as it goes.

The rules, so that any example added to a doc is covered without touching
this file:

* Which docs: README.md and every docs/*.md. A doc containing
  `<!-- doctest: skip-file: REASON -->` is left out (for the benchmarks,
  which take minutes).
* Which blocks: fenced blocks tagged sh, bash, shell or console, or untagged,
  whose first line that is not a comment starts with a command (`sockit`,
  `echo`, `printf`, `nc`, `curl`, `python3`, `cargo`, `cat`, `./scripts/`) or
  with a `$ ` prompt. In a block with prompts only the `$ ` lines run (the
  rest is their output). Other blocks (output, Python, TOML, JSON) are text.
* A block right after `<!-- doctest: skip: REASON -->` does not run; the
  reason must say why (another host, a config file with fixed ports, ...).
* Each `## ` section is one scenario: a fresh temporary directory (the
  current directory of every command), its own config directory and HOME,
  its commands run in order, and every server it started stopped at its end.
* `sockit serve ...` and other commands that run until stopped (`sockit
  listen`, `--stay`, an interactive `nc HOST PORT`) start in the background;
  serve is waited for until `ready`. Its ports become 0 (0.0.0.0 becomes
  127.0.0.1) and the documented port of each listener is mapped to the real
  one, in every later command of the section (`tcp://H:P`, `http://H:P`,
  `nc [-u] H P`). Without listener flags serve gets the defaults on port 0,
  and $SOCKIT_SERVER points at its framed listener. A client command before
  any server starts one on the defaults.
* Every other command must exit 0 within COMMAND_LIMIT seconds.
* A command naming a host other than this machine fails the test: mark its
  block as skipped, with the reason.
* Password prompts are answered: `sockit user add/passwd` without
  --password-stdin get it on stdin, `sockit login` through $SOCKIT_PASSWORD,
  and $PASS holds it for examples that pipe it in. Local files an example
  uploads (`report.pdf`, `a.txt`, `photos/`) are created if missing.
* `cargo install --path .` is a no-op and `cargo run --release -- ARGS`
  runs `sockit ARGS`: the binary under test ($SOCKIT_BIN) stands in for the
  build. `./scripts/test.sh` and `cargo test|bench|fuzz` are not run (this
  test is part of them).
* `nc` is a small stdlib stand-in (NC_SHIM below): the host may have no
  netcat, and netcat flavours differ.
"""
import os
import pathlib
import re
import shlex
import signal
import subprocess
import sys
import tempfile
import threading

ROOT = pathlib.Path(__file__).resolve().parents[2]
BIN = os.environ.get("SOCKIT_BIN", str(ROOT / "target" / "debug" / "sockit"))

#: Longest a command may run, in seconds: a bound on a hang, not a sleep.
COMMAND_LIMIT = 60
#: Longest a server may take to print `ready`.
READY_LIMIT = 30
#: The password of every account the examples create.
PASSWORD = "correct horse battery"
#: Cheap hashing: the examples test behaviour, not argon2's cost.
ARGON2 = "m=256,t=1,p=1"

SHELL_TAGS = {"sh", "bash", "shell", "console", ""}
COMMAND_WORDS = {"sockit", "echo", "printf", "nc", "curl", "python3", "cargo", "cat", "cmp"}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "0.0.0.0", "[::1]", "[::]"}

#: What `sockit serve` runs with no listener flag: (flag, scheme, port).
DEFAULTS = [("echo", "tcp", 8888), ("echo", "udp", 8888), ("listen", "tcp", 7878),
            ("web", "tcp", 8080)]
SERVICE_OF_FLAG = {"echo": "echo", "upper": "upper", "listen": "framed", "web": "web",
                   "chat-lines": "chat-lines", "chat-udp": "chat-udp", "perf": "perf",
                   "metrics": "metrics"}

NC_SHIM = r'''#!/usr/bin/env python3
"""nc [-u] [-w SECS] HOST PORT: stdin to the peer, the peer to stdout."""
import select, socket, sys
args, udp, wait = sys.argv[1:], False, 2.0
while args and args[0].startswith("-"):
    flag = args.pop(0)
    if "u" in flag: udp = True
    if flag.startswith("-w"): wait = float(flag[2:] or args.pop(0))
host, port = args[0], int(args[1])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM if udp else socket.SOCK_STREAM)
s.connect((host, port))
data = sys.stdin.buffer.read()
if udp:
    for line in data.splitlines(keepends=True) or [b""]:
        s.send(line)
else:
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
while select.select([s], [], [], wait)[0]:
    got = s.recv(65536)
    if not got and not udp:
        break
    sys.stdout.buffer.write(got)
    sys.stdout.flush()
'''


class Example:
    """One command of a doc, where it is, and how the doc marked its block."""

    def __init__(self, doc, line, section, command, skip):
        self.doc, self.line, self.section = doc, line, section
        self.command, self.skip = command, skip

    def where(self):
        return f"{self.doc.relative_to(ROOT)}:{self.line}"


def docs():
    """The docs whose examples run."""
    return [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def extract(doc):
    """Every shell command of `doc`, in order, as Examples."""
    text = doc.read_text()
    if re.search(r"<!--\s*doctest:\s*skip-file:\s*\S", text):
        return []
    out, section, skip, lines = [], "(top)", None, text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = line[3:].strip()
        m = re.match(r"\s*<!--\s*doctest:\s*skip:\s*(.*?)\s*-->", line)
        if m:
            if not m.group(1):
                raise ValueError(f"{doc}:{i + 1}: a doctest skip marker needs a reason")
            skip = m.group(1)
        fence = re.match(r"^(\s*)```(\w*)\s*$", line)
        if not fence:
            i += 1
            continue
        tag, body = fence.group(2), []
        i += 1
        while i < len(lines) and not re.match(r"^\s*```\s*$", lines[i]):
            body.append((i + 1, lines[i]))
            i += 1
        i += 1
        if tag in SHELL_TAGS:
            for line_no, cmd in commands(body, tag):
                out.append(Example(doc, line_no, section, cmd, skip))
        # A marker covers the one block after it.
        skip = None
    return out


def commands(body, tag):
    """The commands of one block: (line, command) with continuations joined."""
    prompted = any(l.lstrip().startswith("$ ") for _, l in body)
    if not prompted and tag == "" and not all_commands(body):
        return []
    result, pending, pending_line = [], "", None
    for no, raw in body:
        line = raw.strip()
        if prompted and not pending:
            if not line.startswith("$ "):
                continue
            line = line[2:]
        if not pending and (not line or line.startswith("#")):
            continue
        if pending_line is None:
            pending_line = no
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        result.append((pending_line, pending + line))
        pending, pending_line = "", None
    return result


def starts_command(line):
    """`sockit ping ...` is a command; `sockit: error: ...` is output."""
    first = line.split()[0]
    return first in COMMAND_WORDS or first.startswith("./scripts/")


def all_commands(body):
    """An untagged block is commands when each of its lines (bar comments
    and continuations) starts with a command: serve's output (`echo
    listening on ...`) starts with one but not on every line."""
    continued = False
    for _, raw in body:
        line = raw.strip()
        if line and not line.startswith("#") and not continued and \
                not starts_command(line):
            return False
        continued = line.endswith("\\")
    return any(l.strip() for _, l in body)


class Scenario:
    """One `## ` section's run: a directory, servers, a port map."""

    def __init__(self, name):
        self.name = name
        self.tmp = tempfile.TemporaryDirectory(prefix="sockit-doc-")
        self.dir = pathlib.Path(self.tmp.name)
        self.work = self.dir / "work"
        self.work.mkdir()
        bindir = self.dir / "bin"
        bindir.mkdir()
        (bindir / "sockit").symlink_to(BIN)
        nc = bindir / "nc"
        nc.write_text(NC_SHIM)
        nc.chmod(0o755)
        home = self.dir / "home"
        home.mkdir()
        self.env = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", HOME=str(home),
                        SOCKIT_CONFIG_DIR=str(self.dir / "config"), SOCKIT_PASSWORD=PASSWORD,
                        PASS=PASSWORD)
        # Until a framed server starts here, the default server is a port
        # nothing listens on: never a server that happens to run on 7878.
        self.env["SOCKIT_SERVER"] = "tcp://127.0.0.1:1"
        self.data_dirs = {}  # data directory -> the server process using it
        self.ports = {}  # (kind, documented port) -> real port
        self.background = []

    def close(self):
        for proc in self.background:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.background:
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.tmp.cleanup()

    def run(self, ex):
        """Runs one example; raises AssertionError naming it when it fails."""
        cmd = rewrite_cargo(ex.command)
        if cmd is None:
            return "not run (the build or the test suite itself)"
        check_hosts(ex, cmd)
        # `sockit serve ... &` is how a reader starts a server beside their
        # shell; servers run in the background here anyway.
        cmd = re.sub(r"^(\s*sockit serve\b.*?)\s+&\s*(#.*)?$", r"\1", cmd)
        m = re.fullmatch(r"\s*export (\w+)=(\S+)\s*(#.*)?", cmd)
        if m:
            value = subprocess.run(["bash", "-c", f"printf %s {m.group(2)}"], env=self.env,
                                   capture_output=True, text=True, check=True).stdout
            self.env[m.group(1)] = value
            return f"{m.group(1)}={value}"
        words = split(cmd)
        make_inputs(self.work, words)
        if is_serve(words):
            return self.serve(ex, cmd)
        if not self.ports and uses_server(words):
            self.serve(ex, "sockit serve")
        cmd, stdin = answer_prompts(cmd)
        relay = re.match(r"(\s*sockit relay\s+(?:--?\S+\s+)*)(\S+)(.*)", cmd)
        if re.search(r"\bsockit listen\b", cmd):
            # A listener of its own: any free port, on loopback.
            cmd = re.sub(r"\b(tcp|udp)://(?:0\.0\.0\.0|127\.0\.0\.1|localhost):\d+",
                         r"\1://127.0.0.1:0", cmd)
        elif relay:
            # The first address listens (any free port), the second is a
            # server of this section.
            listen = re.sub(r"^(tcp|udp|tls)://[^/]*:\d+$", r"\1://127.0.0.1:0", relay.group(2))
            cmd = relay.group(1) + listen + self.map_ports(ex, relay.group(3))
        else:
            cmd = self.map_ports(ex, cmd)
        if runs_until_stopped(cmd):
            self.background.append(subprocess.Popen(
                ["bash", "-c", cmd], cwd=self.work, env=self.env, stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
            return "started in the background"
        try:
            out = subprocess.run(["bash", "-o", "pipefail", "-c", cmd], cwd=self.work,
                                 env=self.env, input=stdin, capture_output=True, text=True,
                                 timeout=COMMAND_LIMIT)
        except subprocess.TimeoutExpired as e:
            raise AssertionError(f"{ex.where()}: `{ex.command}` ran past {COMMAND_LIMIT} s "
                                 f"(ran as `{cmd}`); output: {e.stdout!r} {e.stderr!r}")
        if out.returncode != 0:
            raise AssertionError(f"{ex.where()}: `{ex.command}` exited {out.returncode} "
                                 f"(ran as `{cmd}`)\nstdout: {out.stdout}\nstderr: {out.stderr}")
        return out.stdout

    def serve(self, ex, cmd):
        words = split(cmd)
        i = words.index("serve")
        args, wanted = words[i + 1:], []
        j = 0
        while j < len(args):
            flag = args[j].removeprefix("--").split("=", 1)[0]
            if flag in SERVICE_OF_FLAG and j + 1 < len(args):
                addr = args[j + 1] if "=" not in args[j] else args[j].split("=", 1)[1]
                m = re.match(r"(\w+)://(.*):(\d+)$", addr)
                if m:
                    host = {"0.0.0.0": "127.0.0.1", "[::]": "[::1]"}.get(m.group(2), m.group(2))
                    args[j:j + 2] = [f"--{flag}", f"{m.group(1)}://{host}:0"]
                    wanted.append((SERVICE_OF_FLAG[flag], m.group(1), int(m.group(3))))
                j += 2
                continue
            j += 1
        if not wanted and not any(a.removeprefix("--") in SERVICE_OF_FLAG for a in args):
            for flag, scheme, port in DEFAULTS:
                args += [f"--{flag}", f"{scheme}://127.0.0.1:0"]
                wanted.append((SERVICE_OF_FLAG[flag], scheme, port))
        listeners = [a[2:].split("=")[0] for a in args
                     if a.startswith("--") and a[2:].split("=")[0] in SERVICE_OF_FLAG]
        stateful = not listeners or any(f not in ("echo", "upper") for f in listeners) or \
            any(a.startswith("tls://") or "=tls://" in a for a in args)
        data = str((self.work / (args[args.index("--data") + 1] if "--data" in args
                                 else "sockit-data")).resolve())
        if stateful and data in self.data_dirs:
            # A reader stops the first server (Ctrl-C) before starting the
            # next one on the same data directory.
            old = self.data_dirs.pop(data)
            old.send_signal(signal.SIGTERM)
            old.wait(timeout=30)
        proc = subprocess.Popen([BIN, "serve", *args], cwd=self.work, env=self.env,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, text=True)
        self.background.append(proc)
        if stateful:
            self.data_dirs[data] = proc
        lines = read_until_ready(proc)
        if lines is None:
            raise AssertionError(f"{ex.where()}: `{ex.command}` did not print ready "
                                 f"(ran as sockit serve {shlex.join(args)}; exit {proc.poll()})")
        bound = [l.split(" listening on ") for l in lines if " listening on " in l]
        for service, scheme, port in wanted:
            for k, (s, addr) in enumerate(bound):
                if s == service and addr.startswith(scheme + "://"):
                    kind = "udp" if scheme == "udp" else "tcp"
                    self.ports[(kind, port)] = int(addr.rsplit(":", 1)[1])
                    if service == "framed" and scheme == "tcp" and port == 7878:
                        self.env["SOCKIT_SERVER"] = addr
                    del bound[k]
                    break
        return "\n".join(lines)

    def map_ports(self, ex, cmd):
        def port(kind, p, text):
            real = self.ports.get((kind, int(p)))
            if real is None:
                raise AssertionError(f"{ex.where()}: `{ex.command}` talks to {text}, which no "
                                     f"server started in section '{ex.section}' serves")
            return str(real)

        def url(m):
            kind = "udp" if m.group(1) == "udp" else "tcp"
            host = "127.0.0.1" if m.group(2) == "0.0.0.0" else m.group(2)
            return f"{m.group(1)}://{host}:{port(kind, m.group(3), m.group(0))}"

        cmd = re.sub(r"\b(tcp|udp|tls|http|https|ws)://(127\.0\.0\.1|localhost|0\.0\.0\.0|\[::1\])"
                     r":(\d+)", url, cmd)

        def nc(m):
            kind = "udp" if re.search(r"(^|\s)-\w*u", m.group(1)) else "tcp"
            return f"nc{m.group(1)} {m.group(2)} {port(kind, m.group(3), m.group(0))}"

        cmd = re.sub(r"\bnc((?:\s+-\w+)*)\s+(127\.0\.0\.1|localhost)\s+(\d+)", nc, cmd)

        def bare(m):
            kind = "udp" if re.search(r"\s-u\b", cmd) else "tcp"
            return f"{m.group(1)}{m.group(2)}{m.group(3)}{port(kind, m.group(4), m.group(0))}"

        # `sockit connect 127.0.0.1 8888` and `-u localhost:8888`.
        return re.sub(r"(\bconnect(?:\s+-\S+)*\s+)(127\.0\.0\.1|localhost)(\s+|:)(\d+)\b",
                      bare, cmd)


def split(cmd):
    try:
        return shlex.split(cmd, comments=True)
    except ValueError:
        return cmd.split()


def rewrite_cargo(cmd):
    """`cargo run --release -- ARGS` -> `sockit ARGS`; None: not run here."""
    s = cmd.strip()
    if s.startswith("cargo install --path ."):
        return "true"
    m = re.match(r"cargo run (?:--release )?-- (.*)", s)
    if m:
        return "sockit " + m.group(1)
    if s.startswith(("./scripts/", "cargo ")):
        return None
    return cmd


def check_hosts(ex, cmd):
    """Fails on an example that needs another host (unless marked)."""
    for m in re.finditer(r"\b(?:tcp|udp|tls|http|https|ws)://([^/\s:'\"]+|\[[^\]]*\]):\d+", cmd):
        if m.group(1) not in LOCAL_HOSTS:
            raise AssertionError(
                f"{ex.where()}: `{ex.command}` needs the host {m.group(1)}; mark its block "
                f"with <!-- doctest: skip: REASON --> if it cannot run on loopback")


def is_serve(words):
    return len(words) >= 2 and words[0] == "sockit" and words[1] == "serve" and \
        "--help" not in words and "--print-config" not in words


def uses_server(words):
    """A client command that talks to a server (not user/cert/lab/serve)."""
    client = {"ping", "bench", "connect", "call", "login", "logout", "whoami", "chat", "say",
              "history", "put", "get", "ls", "rm"}
    return any(w == "sockit" and k + 1 < len(words) and words[k + 1] in client
               for k, w in enumerate(words)) or "nc" in words or "curl" in words


def runs_until_stopped(cmd):
    return bool(re.search(r"\bsockit (listen|relay)\b|--stay\b", cmd) or
                re.fullmatch(r"\s*nc\s+\S+\s+\d+\s*(#.*)?", cmd))


def answer_prompts(cmd):
    """Answers password prompts; returns (command, stdin)."""
    m = re.search(r"\bsockit user (add|passwd) (\S+)", cmd)
    given = "--password-stdin" in split(cmd)  # not in a comment
    if m and not given:
        cmd = cmd[:m.end()] + f" --password-stdin --argon2 {ARGON2}" + cmd[m.end():]
        return cmd, PASSWORD + "\n"
    if m:
        cmd = cmd[:m.end()] + f" --argon2 {ARGON2}" + cmd[m.end():]
    return cmd, None


def make_inputs(work, words):
    """Creates the local files an example reads, when missing."""
    for k, w in enumerate(words):
        if w.startswith((":", "-", "/", "~")) or "://" in w or "=" in w:
            continue
        path = work / w
        if re.fullmatch(r"[\w.-]+/?", w) and k > 0 and words[k - 1] == "-r" and \
                "put" in words and not path.exists():
            path.mkdir(parents=True)
            (path / "one.txt").write_text("one\n")
        elif re.fullmatch(r"[\w-]+\.(pdf|txt|jpg|png|bin|csv|log|iso|tar)", w) and not path.exists() \
                and ("put" in words or "--body" in words or "-T" in words):
            path.write_bytes(os.urandom(4096))


def read_until_ready(proc):
    """The server's stdout lines up to `ready`, or None if it exits first."""
    lines, done = [], threading.Event()

    def reader():
        for line in proc.stdout:
            lines.append(line.rstrip("\n"))
            if line.startswith("ready"):
                done.set()
                return
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    done.wait(READY_LIMIT)
    return lines if lines and lines[-1].startswith("ready") else None


def run_doc(doc, log=None):
    """Runs every example of `doc`; returns (ran, skipped) lists of Examples."""
    ran, skipped, scenario = [], [], None
    try:
        for ex in extract(doc):
            if ex.skip:
                skipped.append(ex)
                continue
            if scenario is None or scenario.name != ex.section:
                if scenario:
                    scenario.close()
                scenario = Scenario(ex.section)
            result = scenario.run(ex)
            ran.append(ex)
            if log:
                log(f"{ex.where()}: {ex.command}\n    -> {str(result).strip()[:200]}")
    finally:
        if scenario:
            scenario.close()
    return ran, skipped


if __name__ == "__main__":
    for path in sys.argv[1:] or docs():
        ran, skipped = run_doc(pathlib.Path(path).resolve(), log=print)
        print(f"{path}: {len(ran)} ran, {len(skipped)} skipped")
