# Part of the sandbox worker script (see common.py): candidate.
# -- C: the candidate ----------------------------------------------------------------------


def candidate_main(devnull, code_fd, request_fd, response_fd):
    job = _read_all(code_fd)
    _harden(job["cpu"], devnull)
    reply = Channel(write_fd=response_fd)
    calls = Channel(read_fd=request_fd)
    signal.signal(signal.SIGALRM, _alarm)
    namespace = {"__name__": "__main__"}
    try:  # T's deadline decides a load that takes too long
        exec(compile(job["code"], "<candidate>", "exec"), namespace)
    except BaseException as exc:
        reply.send({"load_error": _describe(exc)})
        return
    functions = {name: namespace.get(name) for name in job["entry_points"]}
    missing = [name for name, fn in functions.items() if not callable(fn)]
    if missing:
        reply.send({"load_error": f"NameError: the code does not define {missing[0]}()"})
        return
    reply.send({"loaded": True})
    while True:
        request = calls.receive()
        if request is None:
            return
        try:
            args = [decode(a) for a in request["args"]]
            kwargs = {str(k): decode(v) for k, v in request["kwargs"].items()}
            result = functions[request["call"]](*args, **kwargs)
        except BaseException as exc:
            reply.send({"raised": [type(exc).__name__, str(exc)[:300]]})
            continue
        try:
            reply.send({"value": encode(result)})
        except (TypeError, ValueError, RecursionError, OverflowError) as exc:
            reply.send({"unencodable": str(exc)[:300]})
