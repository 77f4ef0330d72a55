# Part of the sandbox worker script (see common.py): zygote.
# -- the zygote ----------------------------------------------------------------------------


def _descendants():
    """Every process below this one. A zygote is a subreaper: the orphans of a job's
    processes come back to it, so nothing a job starts can leave its tree."""
    found, frontier = [], [os.getpid()]
    while frontier:
        pid = frontier.pop()
        try:
            tids = os.listdir(f"/proc/{pid}/task")
        except OSError:
            continue
        for tid in tids:
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as handle:
                    children = [int(child) for child in handle.read().split()]
            except OSError:
                continue
            found += children
            frontier += children
    return found


def _kill_descendants(deadline_s=2.0):
    """SIGKILL the whole tree below us until it is gone; False if it outlives the deadline.
    Each round waits on the killed processes' pidfds, which turn readable as they exit."""
    deadline = time.monotonic() + deadline_s
    while True:
        found = _descendants()
        if not found:
            return True
        handles = []
        for pid in found:
            with contextlib.suppress(OSError):
                handles.append(os.pidfd_open(pid))
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        for handle in handles:
            remaining = deadline - time.monotonic()
            if remaining > 0:
                select.select([handle], [], [], remaining)
            os.close(handle)
        if time.monotonic() > deadline:
            return not _descendants()


def _warm_up():
    """Run once what every job runs (the compiler, the codecs), so that its first-use
    set-up happens here, once, and not in each job's fresh processes (about 1 ms each)."""
    namespace = {"__name__": "__main__"}
    exec(compile("def f(x):\n    return [x, (x,), {x: x}]\n", "<warm>", "exec"), namespace)
    exec(compile("assert f(1) == [1, (1,), {1: 1}]", "<warm>", "exec"), namespace)
    decode(json.loads(json.dumps(encode(namespace["f"](1.5)))))
    signal.setitimer(signal.ITIMER_REAL, 0)


def zygote_main(sock):
    """Forks C and T on request, and kills every process of a job when it ends."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    devnull = _seal_zygote()
    _warm_up()
    while True:
        try:
            message, fds, _, _ = socket.recv_fds(sock, 64, 8)
        except OSError:
            os._exit(0)
        if not message:
            os._exit(0)
        if message == b"kill":
            sock.send(b"killed" if _kill_descendants() else b"stuck")
            continue
        pids, taken = [], 0
        for role in message.decode():  # "C", "T" or "CT": C takes 3 descriptors, T 4
            count = 3 if role == "C" else 4
            mine, taken = fds[taken : taken + count], taken + count
            pid = os.fork()
            if pid == 0:
                sock.close()
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                for fd in fds:
                    if fd not in mine:
                        os.close(fd)
                try:
                    (candidate_main if role == "C" else tests_main)(devnull, *mine)
                finally:
                    os._exit(0)
            pids.append(str(pid))
        for fd in fds:
            os.close(fd)
        sock.send(" ".join(pids).encode())
