"""Chaos soak of `lgd train`: one long CPU run (the CI smoke set-up) under a random stream of what
a daemon meets in the wild, checked against the same run left alone.

While the chaos run trains, every 0.5-4 s one of: SIGUSR1 (checkpoint now), SIGHUP after
rewriting `[pipeline]` (capacities, decode workers) and `logging.every_steps` in the config,
SIGSTOP for up to 8 s then SIGCONT (longer than its `guards.stall_timeout_s` of 5 s, as a batch
scheduler's suspend), SIGTERM (must exit 0 with a checkpoint), two SIGTERMs (exit at once), or
SIGKILL. A stopped or killed run is started again and must resume from a checkpoint no older
than the newest it reported written. With `--ranks N` both runs are `lgd launch --nproc-per-node
N` (data-parallel over Gloo): signals go to the launcher, which forwards them, SIGSTOP to the
launcher and every rank, and SIGKILL to the launcher (its ranks are told to stop, and the restart
waits for them) or to one rank (the others must end at once). None of this changes what is
learned, so:

- every loss both runs logged at the same step must be equal to the last bit (JSON round-trips
  an f64), and the final checkpoints must hold bit-identical tensors;
- no run may go `--hang-s` seconds of running time without a log line (then every thread's
  stack is dumped with gdb into the soak folder and the soak fails); no broken checkpoint may be
  reported; every exit must be the one its signal asks for; every log line (`--log-format json`,
  the launcher's and every rank's) must be a JSON object.

usage: chaos_soak.py [--steps 2400] [--dir DIR] [--seed 1] [--hang-s 180] [--ranks 1]
                     [--set section.field=value ...]
Needs target/release/lgd (`make build`); run with the project's Python (.venv/bin/python).
"""

import argparse
import json
import math
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMAGES, BATCH = 48, 4


class Failure(Exception):
    pass


def config_text(base, epochs, pipeline, log_every):
    """The smoke config with the soak's schedule, checkpoints, guards and the given pipeline."""
    text = re.sub(r"(?m)^epochs = .*$", f"epochs = {epochs}", base)
    text = re.sub(r"(?m)^every_steps = 1$", f"every_steps = {log_every}", text)
    text = re.sub(r"(?m)^\[checkpoint\]\nevery_epochs = 2$", "[checkpoint]\nevery_epochs = 0\nevery_steps = 40", text)
    text = re.sub(r"(?m)^\[validation\]\nevery_epochs = 3$", "[validation]\nevery_epochs = 25", text)
    fields = "\n".join(f"{k} = {v}" for k, v in pipeline.items())
    return text + f"\n[guards]\nstall_timeout_s = 5\n\n[pipeline]\n{fields}\n"


def with_settings(base, settings):
    """`base` with each `section.field=value` of `--set` (a TOML value) replacing the field where
    the section has it, added to the section where it has not, or in a new section."""
    for setting in settings:
        key, sep, value = setting.partition("=")
        section, dot, field = key.strip().rpartition(".")
        if not sep or not dot or not section or not field:
            sys.exit(f"error: --set {setting!r}: expected section.field=value")
        header = re.search(rf"(?m)^\[{re.escape(section)}\]$", base)
        if header is None:
            base += f"\n[{section}]\n{field} = {value}\n"
            continue
        end = re.compile(r"(?m)^\[").search(base, header.end())
        end = end.start() if end else len(base)
        body = base[header.end():end]
        line = re.compile(rf"(?m)^{re.escape(field)}\s*=.*$")
        body = line.sub(f"{field} = {value}", body, count=1) if line.search(body) else f"\n{field} = {value}" + body
        base = base[:header.end()] + body + base[end:]
    return base


def random_pipeline(rng):
    return {
        "decode_workers": rng.choice([0, 1, 2, 3]),
        "decoded_samples": rng.choice([8, 64, 1024]),
        "host_batches": rng.choice([1, 2, 4]),
        "device_batches": rng.choice([1, 2, 3]),
        "teacher_outputs": rng.choice([1, 2, 4]),
        "checkpoint_requests": 2,  # not reloadable: a change would refuse the whole reload
    }


class Life:
    """One `lgd train` process, or one `lgd launch` of `ranks` of them: the JSON log lines (every
    rank's) kept, with the running time of the last one."""

    def __init__(self, lgd, folder, log_path, ranks):
        self.log = open(log_path, "w")
        launch = ["launch", "--nproc-per-node", str(ranks), "--master-port", str(random.randrange(20000, 40000)), "--"] if ranks > 1 else []
        self.proc = subprocess.Popen(
            [str(lgd), "--log-format", "json", *launch, "train", "--config", "run.toml", "--run-dir", "run"],
            cwd=folder, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self.records, self.last_line_at, self.lock = [], time.monotonic(), threading.Lock()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.proc.stderr:
            self.log.write(line)
            self.log.flush()
            try:
                record = json.loads(line)
            except ValueError:
                record = {"message": line.rstrip(), "stray": True}  # fails the soak
            with self.lock:
                self.records.append(record)
                self.last_line_at = time.monotonic()

    def seen(self, message):
        with self.lock:
            return [r for r in self.records if r.get("message") == message]

    def finished_already(self):
        """The start's records saying the run had already ended (killed after its last checkpoint)."""
        with self.lock:
            return [r for r in self.records if r.get("message", "").startswith("already finished:")]

    def ranks(self):
        """The launcher's rank processes (none for a lone `lgd train`)."""
        try:
            return [int(pid) for pid in Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text().split()]
        except OSError:
            return []

    def suspend_for(self, seconds):
        pids = [self.proc.pid] + self.ranks()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        time.sleep(seconds)
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        with self.lock:
            self.last_line_at += seconds  # stopped time is not a hang

    def silent_for(self):
        with self.lock:
            return time.monotonic() - self.last_line_at

    def wait(self, seconds):
        try:
            code = self.proc.wait(timeout=seconds)
        except subprocess.TimeoutExpired:
            return None
        self.reader.join()
        self.log.close()
        return code


def dump_stacks(pid, path):
    with open(path, "w") as out:
        subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "thread apply all bt 25"], stdout=out, stderr=subprocess.STDOUT)


def steps_and_losses(records):
    return {r["step"]: r["loss"] for r in records if r.get("message") == "step" and "loss" in r}


def compare_checkpoints(a, b):
    from safetensors import safe_open
    import torch
    with safe_open(a, "pt") as fa, safe_open(b, "pt") as fb:
        keys = set(fa.keys())
        if keys != set(fb.keys()):
            raise Failure(f"the final checkpoints hold different tensors: {sorted(keys ^ set(fb.keys()))[:5]}")
        differ = [k for k in sorted(keys) if not torch.equal(fa.get_tensor(k), fb.get_tensor(k))]
    if differ:
        raise Failure(f"{len(differ)} of {len(keys)} tensors differ from the undisturbed run's, e.g. {differ[:5]}")
    return len(keys)


def wait_gone(pids, seconds):
    """Waits for processes that are not this one's children (a killed launcher's ranks) to end."""
    end = time.monotonic() + seconds
    def running(pid):
        try:
            return "zombie" not in Path(f"/proc/{pid}/status").read_text()
        except OSError:
            return False

    while time.monotonic() < end:
        if not any(running(pid) for pid in pids):
            return True
        time.sleep(0.1)
    return False


def chaos_run(args, lgd, folder, base, epochs, total, reference_losses):
    rng = random.Random(args.seed)
    counts = {k: 0 for k in ("checkpoint", "reload", "suspend", "stop", "double_stop", "kill", "kill_rank", "life")}
    written, losses, compared = 0, {}, 0
    while True:
        counts["life"] += 1
        life = Life(lgd, folder, folder / f"chaos-{counts['life']:03}.log", args.ranks)
        started = time.monotonic()
        while not life.seen("training") and not life.finished_already():
            if life.proc.poll() is not None:
                life.reader.join(10)  # the lines it wrote before exiting
                if life.seen("training") or life.finished_already():
                    break
            if life.proc.poll() is not None or time.monotonic() - started > 300:
                raise Failure(f"life {counts['life']} did not start (see chaos-{counts['life']:03}.log)")
            time.sleep(0.05)
        done = life.finished_already()
        start_step = done[0]["step"] if done else life.seen("training")[0]["start_step"]
        if start_step < written:
            raise Failure(f"life {counts['life']} resumed from step {start_step}, older than the checkpoint of step {written} reported written")
        ended_as, ranks = None, []
        while ended_as is None:
            time.sleep(rng.uniform(0.5, 4.0))
            if life.proc.poll() is not None:
                ended_as = "end"
                break
            if life.silent_for() > args.hang_s:
                dump_stacks(life.proc.pid, folder / "hang-stacks.txt")
                life.proc.kill()
                raise Failure(f"life {counts['life']} logged nothing for {args.hang_s} s of running time: stacks in {folder / 'hang-stacks.txt'}")
            action = rng.choices(["checkpoint", "reload", "suspend", "stop", "double_stop", "kill", "kill_rank"],
                                 [3, 3, 2, 0.5, 0.3, 0.5, 0.3 if args.ranks > 1 else 0])[0]
            ranks = life.ranks()
            if action == "kill_rank" and not ranks:
                continue  # the launcher is ending on its own
            counts[action] += 1
            if action == "checkpoint":
                life.proc.send_signal(signal.SIGUSR1)
            elif action == "reload":
                (folder / "run.toml").write_text(config_text(base, epochs, random_pipeline(rng), rng.choice([1, 7, 10, 33])))
                life.proc.send_signal(signal.SIGHUP)
            elif action == "suspend":
                life.suspend_for(rng.uniform(0.2, 8.0))
            elif action == "kill_rank":
                os.kill(rng.choice(ranks), signal.SIGKILL)
                ended_as = action
            else:
                life.proc.send_signal(signal.SIGKILL if action == "kill" else signal.SIGTERM)
                if action == "double_stop":
                    time.sleep(rng.uniform(0.0, 0.3))
                    life.proc.send_signal(signal.SIGTERM)
                ended_as = action
        code = life.wait(300)
        if code is not None and not wait_gone(ranks, 300):
            raise Failure(f"life {counts['life']}: ranks {ranks} still running 300 s after their launcher ended by {ended_as}")
        if code is None:
            dump_stacks(life.proc.pid, folder / "exit-stacks.txt")
            life.proc.kill()
            raise Failure(f"life {counts['life']} did not exit within 300 s of {ended_as}: stacks in {folder / 'exit-stacks.txt'}")
        stray = [r["message"] for r in life.records if r.get("stray")]
        if stray:
            raise Failure(f"life {counts['life']} wrote {len(stray)} log lines that are no JSON object, e.g. {stray[0]!r}")
        broken = [r for r in life.records if "broken checkpoint" in r.get("message", "")]
        if broken:
            raise Failure(f"life {counts['life']}: {broken[0]['message']}")
        expected = {"end": [0], "stop": [0], "double_stop": [0, 130], "kill": [-signal.SIGKILL]}.get(ended_as)
        if (code not in expected) if expected else code == 0:
            tail = "".join(open(folder / f"chaos-{counts['life']:03}.log").readlines()[-8:])
            raise Failure(f"life {counts['life']} exited {code} after {ended_as} (expected {expected}):\n{tail}")
        written = max([written] + [r["step"] for r in life.seen("checkpoint written")])
        for step, loss in steps_and_losses(life.records).items():
            if step in losses and losses[step] != loss:
                raise Failure(f"step {step} was logged twice with different losses: {losses[step]} and {loss}")
            losses[step] = loss
            if step in reference_losses:
                compared += 1
                if reference_losses[step] != loss:
                    raise Failure(f"step {step}: loss {loss} differs from the undisturbed run's {reference_losses[step]}")
        last = max(steps_and_losses(life.records), default=start_step)
        print(f"life {counts['life']:3}: steps {start_step} -> {last}, ended by {ended_as} (exit {code})", flush=True)
        if ended_as == "end":
            if last != total:
                raise Failure(f"the run ended at step {last}, not {total}")
            return counts, compared


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2400)
    parser.add_argument("--dir", type=Path, default=Path(os.environ.get("TMPDIR", "/tmp")) / "lgd-chaos-soak")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--hang-s", type=float, default=180.0)
    parser.add_argument("--ranks", type=int, default=1)
    parser.add_argument("--set", action="append", default=[], metavar="SECTION.FIELD=VALUE",
                        help="a config field of both runs, as TOML (teacher.cache_views=3, student.arch='\"mobilenet_v2\"')")
    args = parser.parse_args()
    lgd = Path(os.environ.get("LGD", ROOT / "target/release/lgd"))
    if not lgd.exists():
        sys.exit(f"error: {lgd} is not built: run 'make build' first")
    subprocess.run(["rm", "-rf", str(args.dir)], check=True)
    (args.dir / "teacher").mkdir(parents=True)
    subprocess.run([sys.executable, str(ROOT / "tests/oracle/clip_towers_oracle.py"), str(args.dir / "teacher")], check=True, stdout=subprocess.DEVNULL)
    subprocess.run([str(lgd), "bench", "make-images", "--out", str(args.dir / "data/train"), "--count", str(IMAGES)], check=True, stdout=subprocess.DEVNULL)
    classes = sorted(p.name for p in (args.dir / "data/train").iterdir())
    (args.dir / "classnames.txt").write_text("".join(c.replace("_", " ", 1) + "\n" for c in classes))
    base = with_settings((ROOT / "configs/ci-smoke.toml").read_text(), args.set)
    epochs = math.ceil(args.steps / (IMAGES // BATCH))
    total = epochs * (IMAGES // BATCH)
    defaults = {"decode_workers": 0, "decoded_samples": 1024, "host_batches": 4, "device_batches": 2, "teacher_outputs": 2, "checkpoint_requests": 2}
    runs = {}
    for name in ("reference", "chaos"):
        folder = args.dir / name
        folder.mkdir()
        for shared in ("teacher", "data", "classnames.txt"):
            (folder / shared).symlink_to(args.dir / shared)
        (folder / "run.toml").write_text(config_text(base, epochs, defaults, 10))
        runs[name] = folder
    began = time.monotonic()
    print(f"undisturbed run of {total} steps in {runs['reference']}", flush=True)
    reference = Life(lgd, runs["reference"], runs["reference"] / "train.log", args.ranks)
    while (code := reference.wait(5)) is None:
        if reference.silent_for() > args.hang_s:
            dump_stacks(reference.proc.pid, args.dir / "hang-stacks.txt")
            reference.proc.kill()
            sys.exit(f"CHAOS FAILED: the undisturbed run logged nothing for {args.hang_s} s: stacks in {args.dir / 'hang-stacks.txt'}")
    if code != 0:
        sys.exit(f"error: the undisturbed run failed: see {runs['reference'] / 'train.log'}")
    if stray := [r["message"] for r in reference.records if r.get("stray")]:
        sys.exit(f"CHAOS FAILED: the undisturbed run wrote {len(stray)} log lines that are no JSON object, e.g. {stray[0]!r}")
    reference_losses = steps_and_losses(reference.records)
    print(f"  {time.monotonic() - began:.0f} s; chaos run in {runs['chaos']}", flush=True)
    began = time.monotonic()
    try:
        counts, compared = chaos_run(args, lgd, runs["chaos"], base, epochs, total, reference_losses)
        final = f"run/checkpoints/step-{total:010}.safetensors"
        tensors = compare_checkpoints(runs["reference"] / final, runs["chaos"] / final)
    except Failure as failure:
        sys.exit(f"CHAOS FAILED: {failure}")
    actions = ", ".join(f"{v} {k}" for k, v in counts.items() if k != "life")
    print(f"CHAOS PASSED: {total} steps in {counts['life']} lives over {time.monotonic() - began:.0f} s ({actions}); "
          f"{compared} logged losses equal to the undisturbed run's; the final checkpoints' {tensors} tensors bit-identical")


if __name__ == "__main__":
    main()
