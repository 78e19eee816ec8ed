"""Every shell example of README.md and docs/*.md runs against the real
server (see doc_examples.py for the rules and the markers), and every
`--help` example of every subcommand that can run on loopback.
"""
import re
import subprocess
import unittest

import doc_examples as de


class DocExamples(unittest.TestCase):
    def test_each_doc(self):
        for doc in de.docs():
            with self.subTest(doc=str(doc.relative_to(de.ROOT))):
                ran, skipped = de.run_doc(doc)
                for ex in skipped:
                    # A skip must say why, in words.
                    self.assertGreater(len(ex.skip.split()), 2, ex.where())

    def test_readme_quick_start_runs_top_to_bottom(self):
        examples = [e for e in de.extract(de.ROOT / "README.md") if e.section == "Quick start"]
        self.assertTrue(examples, "README.md has no '## Quick start' section with commands")
        self.assertFalse([e.where() for e in examples if e.skip],
                         "every quick-start step must run")


class ExitTable(unittest.TestCase):
    def test_readme_and_help_publish_the_same_codes(self):
        readme = (de.ROOT / "README.md").read_text()
        section = readme.split("## Exit status", 1)[1].split("\n## ", 1)[0]
        codes = re.findall(r"^\| (\d) \| (\w+)", section, re.M)
        self.assertEqual([c for c, _ in codes], [str(n) for n in range(8)])
        top = subprocess.run([de.BIN, "--help"], capture_output=True, text=True,
                             check=True).stdout
        for code, first_word in codes:
            self.assertRegex(top, rf"\n  {code} {first_word}", f"status {code} in sockit --help")


class ExtractorRules(unittest.TestCase):
    """The extractor itself, on a small doc, so a rule cannot silently stop working."""

    def test_blocks_markers_and_prompts(self):
        import pathlib
        import tempfile
        with tempfile.TemporaryDirectory() as d:
            doc = pathlib.Path(d) / "x.md"
            doc.write_text(
                "## A\n```sh\nsockit ping -c 1 \\\n   udp://127.0.0.1:8888  # two lines\n```\n"
                "```\nsockit: error: output, not a command\n```\n"
                "<!-- doctest: skip: needs another host -->\n```sh\nsockit ls tcp://h:1:\n```\n"
                "```python\nprint(1)\n```\n"
                "## B\n```\n$ echo hi\nhi\n```\n")
            got = [(e.section, e.command, e.skip) for e in de.extract(doc)]
        self.assertEqual(got, [
            ("A", "sockit ping -c 1  udp://127.0.0.1:8888  # two lines", None),
            ("A", "sockit ls tcp://h:1:", "needs another host"),
            ("B", "echo hi", None),
        ])

    def test_other_hosts_fail(self):
        ex = de.Example(de.ROOT / "README.md", 1, "s", "sockit ls tcp://10.0.0.5:7878:", None)
        with self.assertRaisesRegex(AssertionError, "doctest: skip"):
            de.check_hosts(ex, ex.command)


class HelpExamples(unittest.TestCase):
    """The `Examples:` of `sockit <command> --help`, run like a doc section."""

    def help_examples(self, words):
        """(command, description) of each example line, continuations joined."""
        out = subprocess.run([de.BIN, *words, "--help"], capture_output=True, text=True,
                             check=True).stdout
        found, inside, pending = [], False, None
        for line in out.splitlines():
            if line.strip() == "Examples:":
                inside = True
                continue
            if inside and not line.strip():
                inside = False
            if not inside:
                continue
            if pending is not None:
                cmd, _, desc = re.split(r"(\s{2,})", line.strip() + "  ", maxsplit=1)
                pending += " " + cmd
                if not pending.endswith("\\"):
                    found.append((pending, desc.strip()))
                    pending = None
                else:
                    pending = pending[:-1].rstrip()
                continue
            if line.startswith("  ") and not line.startswith("   ") and \
                    de.starts_command(line.strip()):
                # The description after two or more spaces is not the command.
                cmd, _, desc = re.split(r"(\s{2,})", line.strip() + "  ", maxsplit=1)
                if cmd.endswith("\\"):
                    pending = cmd[:-1].rstrip()
                else:
                    found.append((cmd, desc.strip()))
        return found

    def test_help_examples(self):
        top = subprocess.run([de.BIN, "--help"], capture_output=True, text=True,
                             check=True).stdout
        commands = re.findall(r"^  (\w+)\s{2,}", top.split("Commands:")[1].split("Options:")[0],
                              re.M)
        self.assertIn("say", commands)
        ran, shown = 0, []
        for name in commands:
            if name == "help":
                continue
            for ex_text, desc in self.help_examples([name]):
                ex = de.Example(de.ROOT / "README.md", 0, f"sockit {name} --help", ex_text, None)
                why = not_on_loopback(ex_text, desc)
                if why:
                    shown.append((ex_text, why))
                    continue
                with self.subTest(example=ex_text):
                    scenario = de.Scenario(ex.section)
                    try:
                        prepare(scenario, ex_text)
                        scenario.run(ex)
                        ran += 1
                    finally:
                        scenario.close()
        # Most examples run; the rest are forms (another host, a CA file).
        self.assertGreater(ran, 45, shown)


def not_on_loopback(cmd, desc):
    """Why a help example cannot run here, or None. Examples that name
    another host, a system path or a port no default service uses are shown
    for their form; the loopback ones run."""
    hosts = re.findall(r"://([^/\s:'\"]+|\[[^\]]*\]):\d+", cmd)
    if any(h not in de.LOCAL_HOSTS for h in hosts):
        return "another host"
    ports = {int(p) for p in re.findall(r"(?:127\.0\.0\.1|localhost|0\.0\.0\.0)[: ](\d+)", cmd)}
    ports.discard(0)
    if not cmd.startswith(("sockit serve", "sockit listen")) and \
            ports - {port for _, _, port in de.DEFAULTS}:
        return "a port no default service listens on"
    rules = [(r"\[::", "IPv6: the default services listen on 127.0.0.1"),
             (r"--config\b|--tls-cert\b|--ca\b|--fingerprint\b", "needs a file made elsewhere"),
             (r"(^|\s)(/etc|/srv|/tmp|~)/|unix:///", "a path outside the test directory"),
             (r"\bcert (forget|show)\b|\$PW\b|\bcat\b", "needs state from an earlier step"),
             (r"Ctrl-C", "runs until stopped"),
             (r"\brm --partial\b", "needs an upload interrupted in an earlier step "
              "(tests/files.rs cancels one)"),
             (r"\bshare log\b", "needs an upload link made in an earlier step "
              "(tests/share_upload.rs reads one's log)")]
    for pattern, why in rules:
        if re.search(pattern, cmd + "  " + desc):
            return why
    return None


def prepare(scenario, cmd):
    """What a help example takes for granted: a server, an account, a login,
    the remote files it names, an echo server on the Unix socket it names."""
    words = de.split(cmd)
    # The sockit subcommand, also after a pipe (`printf ... | sockit login`).
    words = words[words.index("sockit"):] if "sockit" in words else words
    sub = words[1] if len(words) > 1 else ""
    step = lambda c: scenario.run(de.Example(de.ROOT, 0, "", c, None))
    if sub == "user" and words[2:3] != ["add"]:
        step("sockit user add alice")
    for path in re.findall(r"unix://([\w.-]+)", cmd):
        if sub not in ("serve", "listen"):
            step(f"sockit serve --echo unix://{path}")
    if sub in {"chat", "say", "history", "put", "get", "ls", "rm", "whoami", "logout", "login",
               "share", "mkdir", "mv", "dm", "edit", "delete", "search"}:
        step("sockit serve")
        step("sockit user add alice")
        if sub != "login":
            step("sockit login --user alice")
    if sub == "dm":
        # Someone to write to.
        step("sockit user add bob")
    if sub in {"edit", "delete"}:
        # Message 1 of the room, alice's, to change.
        room = words[words.index("--room") + 1] if "--room" in words else "lobby"
        step(f"sockit say --room {room} 'first draft'")
    if sub == "bench" and "ws://" in cmd:
        # The web door's WebSocket starts logged in: an account to log in as.
        step("sockit serve")
        step("sockit user add alice")
    if sub == "mv":
        # FROM exists; a TO ending in / is an existing folder to move into.
        operands = [w for w in words[2:] if not w.startswith("-")]
        (scenario.work / "seed.txt").write_text("seed\n")
        step(f"sockit put --force seed.txt :{operands[0].lstrip(':')}")
        if operands[-1].endswith("/"):
            step(f"sockit mkdir -p :{operands[-1].strip(':/')}")
    if sub == "share" and "--e2e" in words:
        # An end-to-end share seals a LOCAL file.
        local = [w for w in words[2:] if not w.startswith("-") and not w.isdigit()][0]
        (scenario.work / local).write_text("seed\n")
        return
    if sub in {"get", "ls", "rm"} or (sub == "share" and words[2:3] not in (["ls"], ["rm"])):
        operands = [w for w in words[2:] if not w.startswith("-")]
        remote = operands[:-1] if sub == "get" and len(operands) > 1 else operands
        (scenario.work / "seed.txt").write_text("seed\n")
        for r in remote:
            path = r.split("://")[-1].rsplit(":", 1)[-1] if "://" in r else r.lstrip(":")
            target = path if re.search(r"\.\w+$", path) else f"{path}/one.txt".lstrip("/")
            step(f"sockit put --force seed.txt :{target}")


if __name__ == "__main__":
    unittest.main()
