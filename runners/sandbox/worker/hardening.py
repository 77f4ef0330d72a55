# Part of the sandbox worker script (see common.py): hardening.
# -- hardening -----------------------------------------------------------------------------

# x86_64 system calls no job may make: another process's memory, SysV IPC and POSIX
# message queues (they outlive a process), keyrings (they outlive a job), new programs
# (a new program is dumpable), namespaces and mounts, a few kernel surfaces, and what
# changes another process's memory placement or I/O priority (they outlive a job).
DENIED_X86_64 = (
    101, 310, 311, 438,  # ptrace, process_vm_readv, process_vm_writev, pidfd_getfd
    29, 30, 31, 67, 68, 69, 70, 71, 64, 65, 66, 220,  # shm*, msg*, sem*
    240, 241, 242, 243, 244, 245,  # mq_*
    248, 249, 250,  # add_key, request_key, keyctl
    59, 322,  # execve, execveat
    272, 308, 165, 166, 155,  # unshare, setns, mount, umount2, pivot_root
    321, 298, 323,  # bpf, perf_event_open, userfaultfd
    251, 256, 279, 312, 440,  # ioprio_set, migrate_pages, move_pages, kcmp, process_madvise
)  # fmt: skip
# Calls allowed only on the caller itself: the attributes of a process (its limits, nice
# value, scheduling policy, CPUs) pass to every process it forks later, so a job that set
# them on its zygote or on PID 1 would reach every later job. (call, argument, value):
# the call is denied unless its argument holds the value (its low 32 bits: pids and the
# "which" of setpriority are ints), or, for prctl, denied when the argument holds it.
SELF_ONLY_X86_64 = (
    (302, ((0, 0),)),  # prlimit64(pid = 0: the caller)
    (141, ((0, 0), (1, 0))),  # setpriority(PRIO_PROCESS, who = 0)
    (144, ((0, 0),)),  # sched_setscheduler
    (142, ((0, 0),)),  # sched_setparam
    (314, ((0, 0),)),  # sched_setattr
    (203, ((0, 0),)),  # sched_setaffinity
)
PRCTL_X86_64 = 157
AUDIT_ARCH_X86_64 = 0xC000003E


def _seccomp_program():
    """A classic BPF program: EPERM for the denied calls, for the self-only calls aimed
    at another process, for prctl(PR_SET_DUMPABLE), for the x32 ABI and for any other
    architecture; everything else is allowed."""
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET
    code = []  # [op, jump if true, jump if false, k]; a jump is a label or 0 (the next)
    labels = {}

    def emit(op, k, jt=0, jf=0):
        code.append([op, jt, jf, k])

    emit(ld, 4)  # the architecture
    emit(jeq, AUDIT_ARCH_X86_64, 0, "deny")
    emit(ld, 0)  # the call's number
    emit(jge, 0x40000000, "deny")  # the x32 ABI
    for nr in DENIED_X86_64:
        emit(jeq, nr, "deny")
    for nr, checks in SELF_ONLY_X86_64:
        emit(jeq, nr, 0, f"after {nr}")
        for i, (arg, value) in enumerate(checks):
            emit(ld, 16 + 8 * arg)
            emit(jeq, value, "allow" if i == len(checks) - 1 else 0, "deny")
        labels[f"after {nr}"] = len(code)
    emit(jeq, PRCTL_X86_64, 0, "allow")
    emit(ld, 16)  # prctl's option (low 32 bits of the first argument)
    emit(jeq, PR_SET_DUMPABLE, "deny", "allow")
    labels["allow"] = len(code)
    emit(ret, 0x7FFF0000)  # SECCOMP_RET_ALLOW
    labels["deny"] = len(code)
    emit(ret, 0x00050000 | 1)  # SECCOMP_RET_ERRNO | EPERM
    program = b""
    for index, (op, jt, jf, k) in enumerate(code):
        jt, jf = (labels[j] - index - 1 if isinstance(j, str) else j for j in (jt, jf))
        assert 0 <= jt < 256 and 0 <= jf < 256
        program += struct.pack("HBBI", op, jt, jf, k)
    return program


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


_FILTER = None


def _install_seccomp():
    """In C and T, before anything of the job runs: nothing can lift the filter, and the
    processes they fork keep it."""
    if platform.machine() != "x86_64":
        return  # the filter is written for x86_64; elsewhere the job relies on the rest
    program = _FILTER or _seccomp_program()
    buffer = ctypes.create_string_buffer(program)
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if _libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def _seal_zygote():
    """Once, in the zygote: what every job's processes inherit from it. First place in
    line for the OOM killer, the null device for their output, and the seccomp program
    (installed by each of C and T: the zygote itself must still create namespaces)."""
    global _FILTER
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")
    _FILTER = _seccomp_program()
    return os.open(os.devnull, os.O_RDWR)


def _harden(cpu_s, devnull):
    """In C and T before anything else: the seccomp filter, own process group, quiet
    stdio, a CPU limit."""
    _install_seccomp()
    os.setpgid(0, 0)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    sys.setrecursionlimit(3000)
