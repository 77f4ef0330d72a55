# Part of the sandbox worker script (see common.py): hardening.
# -- hardening -----------------------------------------------------------------------------

# x86_64 system calls no job may make: another process's memory, SysV IPC and POSIX
# message queues (they outlive a process), keyrings (they outlive a job), new programs
# (a new program is dumpable), namespaces and mounts, and a few kernel surfaces.
DENIED_X86_64 = (
    101, 310, 311, 438,  # ptrace, process_vm_readv, process_vm_writev, pidfd_getfd
    29, 30, 31, 67, 68, 69, 70, 71, 64, 65, 66, 220,  # shm*, msg*, sem*
    240, 241, 242, 243, 244, 245,  # mq_*
    248, 249, 250,  # add_key, request_key, keyctl
    59, 322,  # execve, execveat
    272, 308, 165, 166, 155,  # unshare, setns, mount, umount2, pivot_root
    321, 298, 323,  # bpf, perf_event_open, userfaultfd
)  # fmt: skip
PRCTL_X86_64 = 157
AUDIT_ARCH_X86_64 = 0xC000003E


def _seccomp_program():
    """A classic BPF program: EPERM for the denied calls, for prctl(PR_SET_DUMPABLE), for
    the x32 ABI and for any other architecture; everything else is allowed."""
    ld, jeq, jge, ret = 0x20, 0x15, 0x35, 0x06  # BPF_LD|W|ABS, BPF_JMP|JEQ|K, BPF_JMP|JGE|K, BPF_RET
    allow, deny = 0x7FFF0000, 0x00050000 | 1  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO | EPERM
    n = len(DENIED_X86_64)
    end = 4 + n + 4  # index of the final "deny"
    program = [
        (ld, 0, 0, 4),  # the architecture
        (jeq, 0, end - 2, AUDIT_ARCH_X86_64),
        (ld, 0, 0, 0),  # the call's number
        (jge, end - 4, 0, 0x40000000),  # the x32 ABI
    ]
    program += [(jeq, end - 5 - i, 0, nr) for i, nr in enumerate(DENIED_X86_64)]
    program += [
        (jeq, 0, 2, PRCTL_X86_64),
        (ld, 0, 0, 16),  # prctl's option (low 32 bits of the first argument)
        (jeq, 1, 0, PR_SET_DUMPABLE),
        (ret, 0, 0, allow),
        (ret, 0, 0, deny),
    ]
    assert len(program) == end + 1
    return b"".join(struct.pack("HBBI", *instruction) for instruction in program)


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


def _install_seccomp():
    if platform.machine() != "x86_64":
        return  # the filter is written for x86_64; elsewhere the job relies on the rest
    program = _seccomp_program()
    buffer = ctypes.create_string_buffer(program)
    fprog = _SockFprog(len(program) // 8, ctypes.addressof(buffer))
    if _libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS")
    if _libc.prctl(PR_SET_SECCOMP, 2, ctypes.byref(fprog), 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP")


def _seal_zygote():
    """Once, in the zygote: what every job's processes inherit from it. The seccomp
    filter (a fork keeps it, and nothing can lift it), first place in line for the OOM
    killer, and the null device for their output."""
    with contextlib.suppress(OSError), open("/proc/self/oom_score_adj", "w") as handle:
        handle.write("1000")
    _install_seccomp()
    return os.open(os.devnull, os.O_RDWR)


def _harden(cpu_s, devnull):
    """In C and T before anything else: own process group, quiet stdio, a CPU limit."""
    os.setpgid(0, 0)
    for fd in (0, 1, 2):
        os.dup2(devnull, fd)
    resource.setrlimit(resource.RLIMIT_CPU, (cpu_s, cpu_s))
    sys.setrecursionlimit(3000)
