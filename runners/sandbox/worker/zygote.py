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


CLONE_NEWNS, CLONE_NEWUSER, CLONE_NEWPID = 0x20000, 0x10000000, 0x20000000
MS_NOSUID, MS_NODEV, MS_NOEXEC, MS_REC, MS_PRIVATE = 2, 4, 8, 0x4000, 0x40000


def _own_namespaces(private_mounts, tmp_bytes):
    """In J, a job's first process: a user and pid namespace of the job's own, and with
    ``private_mounts`` a mount namespace with a fresh /tmp and /dev/shm (whatever earlier
    jobs wrote, their inode counters start afresh) and nothing at /proc until the job's
    first process mounts its own there. The processes J forks next see pids counted from
    1 whatever earlier jobs forked. False when the kernel refuses (the job then runs as
    before, in the worker's namespaces)."""
    flags = CLONE_NEWUSER | CLONE_NEWPID | (CLONE_NEWNS if private_mounts else 0)
    uid, gid = os.getuid(), os.getgid()
    if _libc.unshare(flags) != 0:
        return False
    # the same uid and gid inside as outside (an unmapped one can create no file); a
    # process's maps are its own to write only while it is dumpable, and nothing of the
    # job has run yet
    _libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0)
    try:
        for name, text in (
            ("setgroups", "deny"),
            ("uid_map", f"{uid} {uid} 1"),
            ("gid_map", f"{gid} {gid} 1"),
        ):
            with open(f"/proc/self/{name}", "w") as handle:
                handle.write(text)
    finally:
        _libc.prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if private_mounts:
        _libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None)
        data = (f"size={tmp_bytes},mode=1777".encode(), f"size={tmp_bytes // 4},mode=1777".encode())
        for path, options in zip((b"/tmp", b"/dev/shm"), data, strict=True):
            _libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, options)
        _libc.mount(b"tmpfs", b"/proc", b"tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, b"size=4k,mode=555")
        os.chdir("/tmp")
    return True


def _reap_all():
    while True:
        try:
            os.wait()
        except ChildProcessError:
            return
        except InterruptedError:
            continue


def _job(roles, fds, devnull, private_mounts, tmp_bytes):
    """J: the job's namespaces, then T (the init of the job's pid namespace: the job ends
    with it) and C forked inside them, reaped until they end (the zygote kills the whole
    tree once the job is over)."""
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    isolated = _own_namespaces(private_mounts, tmp_bytes)
    count = {"C": 3, "T": 4}
    given = {}
    taken = 0
    for role in roles:  # "C", "T" or "CT": C takes 3 descriptors, T 4
        given[role], taken = fds[taken : taken + count[role]], taken + count[role]
    for index, role in enumerate(sorted(given, key="TC".index)):
        if os.fork() == 0:
            for fd in fds:
                if fd not in given[role]:
                    os.close(fd)
            if isolated and private_mounts and index == 0:  # pid 1: a /proc of the job's own
                _libc.mount(b"proc", b"/proc", b"proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            try:
                (candidate_main if role == "C" else tests_main)(devnull, *given[role])
            finally:
                os._exit(0)
    for fd in fds:
        os.close(fd)
    _reap_all()
    os._exit(0)


def zygote_main(sock, private_mounts):
    """Forks a job's processes on request, and kills every process of a job when it ends."""
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    _libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
    devnull = _seal_zygote()
    stat = os.statvfs("/tmp")
    tmp_bytes = max(1 << 20, stat.f_blocks * stat.f_frsize)
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
        pid = os.fork()
        if pid == 0:
            sock.close()
            try:
                _job(message.decode(), fds, devnull, private_mounts, tmp_bytes)
            finally:
                os._exit(0)
        for fd in fds:
            os.close(fd)
        sock.send(" ".join([str(pid)] * len(message)).encode())
