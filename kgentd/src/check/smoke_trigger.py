# kgent smoke-run trigger: a short, harmless workload that provokes the events tracing requests
# usually ask about, with values a checker can recognise. Run by kgentd while a candidate program
# is attached; touches only the directory it is given (under /tmp) and loopback sockets.
#
# Every process it starts has a command name starting "kgent-smoke"; every path it touches
# starts with the given directory, whose name starts "kgent-smoke-". It prints one JSON line of
# facts (pids, ports, paths) for the checker at the end.
#
# usage: python3 smoke_trigger.py DIR PORT
import ctypes
import json
import mmap
import os
import signal
import socket
import subprocess
import sys
import threading
import time

DIR = sys.argv[1]
PORT = int(sys.argv[2])
# A process name the request filters on ("processes named 'x'"): the workload runs again under it.
NAMED = sys.argv[3] if len(sys.argv) > 3 else ""
facts = {"pid": os.getpid(), "pids": [os.getpid()], "ports": [], "paths": [], "errors": []}


def setcomm(name):
    with open("/proc/self/comm", "w") as f:
        f.write(name)


def step(fn):
    """Runs one action; a failing action is recorded, never fatal."""
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - a trigger must go on
        facts["errors"].append(f"{fn.__name__}: {e}")


def path(name):
    p = os.path.join(DIR, name)
    facts["paths"].append(p)
    return p


def files():
    p = path("kgent-smoke-file.txt")
    with open(p, "w") as f:
        f.write("kgent smoke\n" * 100)
        f.flush()
        os.fsync(f.fileno())
        os.fdatasync(f.fileno())
    big = path("kgent-smoke-big.bin")
    fd = os.open(big, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o644)
    os.write(fd, b"\0" * (1 << 20))  # one 1 MiB write
    os.fsync(fd)
    os.close(fd)
    fd = os.open(big, os.O_RDONLY)
    os.read(fd, 100000)  # reads of very different sizes
    os.read(fd, 512)
    os.close(fd)
    os.stat(p)
    try:
        os.open(path("kgent-smoke-missing.txt"), os.O_RDONLY)  # fails with ENOENT
    except FileNotFoundError:
        pass
    # Each change goes through every syscall variant that makes it (chmod, fchmodat, fchmod;
    # rename, renameat; unlink, unlinkat; mkdir, mkdirat): tools differ in which one they use,
    # and a program watching any one of them must see the workload.
    dfd = os.open(DIR, os.O_RDONLY | os.O_DIRECTORY)
    private = path("kgent-smoke-private.txt")
    open(private, "w").close()
    # Changes that leave the file private, through the same three syscalls as below.
    os.chmod(private, 0o640)
    os.chmod(os.path.basename(private), 0o640, dir_fd=dfd)
    fd = os.open(private, os.O_RDONLY)
    os.fchmod(fd, 0o640)
    os.close(fd)
    os.unlink(private)
    os.chmod(p, 0o777)  # world-writable, through chmod(2)
    os.chmod(os.path.basename(p), 0o777, dir_fd=dfd)  # fchmodat(2)
    fd = os.open(p, os.O_RDONLY)
    os.fchmod(fd, 0o777)  # fchmod(2)
    os.close(fd)
    os.rename(p, path("kgent-smoke-renamed.txt"))  # rename(2)
    os.rename("kgent-smoke-renamed.txt", "kgent-smoke-moved.txt", src_dir_fd=dfd, dst_dir_fd=dfd)  # renameat(2)
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    if libc.renameat2(dfd, b"kgent-smoke-moved.txt", dfd, b"kgent-smoke-mv2.txt", 1) == 0:  # renameat2(2) with RENAME_NOREPLACE, as mv does
        libc.renameat2(dfd, b"kgent-smoke-mv2.txt", dfd, b"kgent-smoke-moved.txt", 1)
    path("kgent-smoke-moved.txt")
    d = path("kgent-smoke-dir")
    os.mkdir(d)  # mkdir(2)
    os.mkdir("kgent-smoke-dir2", dir_fd=dfd)  # mkdirat(2)
    path("kgent-smoke-dir2")
    os.listdir(DIR)
    os.rmdir(d)
    os.rmdir(os.path.join(DIR, "kgent-smoke-dir2"))
    os.unlink(path("kgent-smoke-moved.txt"))  # unlink(2)
    os.unlink(os.path.basename(big), dir_fd=dfd)  # unlinkat(2)
    os.close(dfd)


def descriptors():
    # Everyday calls on files and descriptors, each through its common variants: links,
    # truncation to zero, pipes (non-blocking, close-on-exec), duplication, seeks, positioned
    # I/O, access checks, timestamps, locks, waits on descriptors, directory changes.
    import fcntl
    import select
    f = path("kgent-smoke-desc.txt")
    with open(f, "w") as fh:
        fh.write("kgent smoke\n" * 64)
    dfd = os.open(DIR, os.O_RDONLY | os.O_DIRECTORY)
    os.link(f, path("kgent-smoke-hard"))  # link(2)
    os.link("kgent-smoke-desc.txt", "kgent-smoke-hard2", src_dir_fd=dfd, dst_dir_fd=dfd)  # linkat(2)
    path("kgent-smoke-hard2")
    os.symlink(f, path("kgent-smoke-soft"))  # symlink(2)
    os.readlink(path("kgent-smoke-soft"))  # readlink(2)
    os.access(f, os.R_OK)  # access(2)
    # Ownership set to what it is (the workload's own uid and gid), through each variant.
    uid, gid = os.getuid(), os.getgid()
    os.chown(f, uid, gid)  # chown(2)
    os.lchown(path("kgent-smoke-soft"), uid, gid)  # lchown(2)
    os.chown("kgent-smoke-desc.txt", uid, gid, dir_fd=dfd)  # fchownat(2)
    os.utime(f)  # utimensat(2)
    fd = os.open(f, os.O_RDWR)
    os.lseek(fd, 0, os.SEEK_END)  # lseek(2)
    os.pwrite(fd, b"kgent", 0)  # pwrite64(2)
    os.pread(fd, 5, 0)  # pread64(2)
    fcntl.flock(fd, fcntl.LOCK_EX)  # flock(2)
    fcntl.flock(fd, fcntl.LOCK_UN)
    fcntl.fcntl(fd, fcntl.F_GETFL)  # fcntl(2)
    os.fchown(fd, uid, gid)  # fchown(2)
    d1 = os.dup(fd)  # dup(2)
    d2 = os.dup2(fd, d1 + 1)  # dup2(2) (Python makes it dup3 when inheritable is False)
    d3 = os.dup2(fd, d2 + 1, inheritable=False)  # dup3(2) with O_CLOEXEC
    for d in (d1, d2, d3):
        os.close(d)
    os.ftruncate(fd, 0)  # ftruncate(2) to zero length
    os.close(fd)
    os.truncate(path("kgent-smoke-hard"), 0)  # truncate(2) to zero length
    r, w = os.pipe()  # pipe2(2) with O_CLOEXEC
    r2, w2 = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)  # pipe2(2), non-blocking
    os.write(w, b"kgent")
    select.select([r], [], [], 0.01)  # select(2)
    p = select.poll()
    p.register(r2, select.POLLIN)
    p.poll(10)  # poll(2)
    ep = select.epoll()
    ep.register(r, select.EPOLLIN)
    ep.poll(0.01)  # epoll_wait(2)
    ep.close()
    for x in (r, w, r2, w2):
        os.close(x)
    cwd = os.getcwd()
    os.chdir(DIR)  # chdir(2)
    os.fchdir(dfd)  # fchdir(2)
    os.chdir(cwd)
    os.close(dfd)
    for name in ("kgent-smoke-soft", "kgent-smoke-hard", "kgent-smoke-hard2", "kgent-smoke-desc.txt"):
        os.unlink(os.path.join(DIR, name))


def memory():
    m = mmap.mmap(-1, 96 << 20)  # a 96 MiB anonymous mapping
    m[0] = 1
    m.madvise(mmap.MADV_DONTNEED)  # madvise(2): the pages handed back
    m.close()
    libc = ctypes.CDLL("libc.so.6")
    libc.malloc.restype = ctypes.c_void_p
    libc.free.argtypes = [ctypes.c_void_p]
    p = libc.malloc(48 << 20)  # one 48 MiB malloc
    libc.free(p)
    libc.system(b"true")
    # A large kernel allocation: setxattr(2) copies the value in with vmemdup_user() ->
    # kvmalloc() (fs/xattr.c), a 64 KiB kmalloc before the filesystem judges the value (most
    # refuse one this large: ENOSPC/E2BIG, which is fine).
    x = path("kgent-smoke-xattr")
    open(x, "w").close()
    try:
        os.setxattr(x, "user.kgent-smoke", b"\0" * (64 << 10))
    except OSError:
        pass
    os.unlink(x)


def processes():
    # A thread (clone(2) with CLONE_THREAD, through pthread_create), named like the process.
    t = threading.Thread(target=time.sleep, args=(0.05,))
    t.start()
    t.join()
    exe = path("kgent-smoke-exec")
    os.symlink("/bin/true", exe)
    child = subprocess.Popen([exe, "--kgent-smoke-arg"])  # exits 0
    facts["exited_0"] = child.pid
    facts["exit_codes"] = [child.wait()]
    # An exec that fails: execve(2) of a missing program (ENOENT), in a child named like
    # the workload.
    try:
        subprocess.Popen([path("kgent-smoke-missing-exec")]).wait()
    except OSError:
        pass
    # A short-lived child that exits with status 3, and one killed by a signal.
    pid = os.fork()
    if pid == 0:
        setcomm("kgent-smoke-ch")
        time.sleep(0.05)
        os._exit(3)
    facts["pids"].append(pid)
    facts["exited_3"] = pid
    os.waitpid(pid, 0)
    pid = os.fork()
    if pid == 0:
        setcomm("kgent-smoke-sig")
        time.sleep(5)
        os._exit(0)
    facts["pids"].append(pid)
    time.sleep(0.05)
    os.kill(pid, signal.SIGTERM)
    os.waitpid(pid, 0)
    os.unlink(exe)
    # The process renames itself, then takes its name back.
    setcomm("kgent-smoke-rn")
    setcomm("kgent-smoke")


def scheduling():
    cpus = sorted(os.sched_getaffinity(0))
    for cpu in cpus[:2] * 2:  # hop between CPUs
        os.sched_setaffinity(0, {cpu})
        end = time.time() + 0.02
        while time.time() < end:
            pass
    os.sched_setaffinity(0, set(cpus))
    time.sleep(0.25)  # one slow call


def tcp(family, host, port):
    srv = socket.socket(family, socket.SOCK_STREAM)
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind((host, port))
    srv.listen(4)
    cli = socket.socket(family, socket.SOCK_STREAM)
    cli.connect((host, port))
    conn, _ = srv.accept()
    cli.sendall(b"kgent smoke")
    conn.recv(64)
    time.sleep(0.3)  # a session that lasts a while
    cli.close()
    conn.close()
    srv.close()
    facts["ports"].append(port)


def refused(family, addr, port):
    s = socket.socket(family, socket.SOCK_STREAM)
    try:
        s.connect((addr, port))
    except OSError:
        pass
    s.close()


def network():
    tcp(socket.AF_INET, "127.0.0.1", PORT)
    if socket.has_ipv6:
        step(lambda: tcp(socket.AF_INET6, "::1", PORT + 1))
    # Refused connections over both families (the kernel answers with a reset).
    refused(socket.AF_INET, "127.0.0.1", PORT + 3)
    facts["ports"].append(PORT + 3)
    if socket.has_ipv6:
        step(lambda: refused(socket.AF_INET6, "::1", PORT + 3))
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    u.sendto(b"kgent smoke datagram", ("127.0.0.1", PORT + 2))
    u.close()
    facts["ports"].append(PORT + 2)
    if socket.has_ipv6:
        # A datagram over IPv6 too, to the port of the IPv6 connection.
        def udp6():
            u6 = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
            u6.sendto(b"kgent smoke datagram", ("::1", PORT + 1))
            u6.close()
        step(udp6)
    socket.getaddrinfo("localhost", PORT)


setcomm("kgent-smoke")
for action in (files, descriptors, memory, processes, scheduling, network):
    step(action)
if NAMED:
    setcomm(NAMED)
    for action in (files, descriptors, memory, network):
        step(action)
    setcomm("kgent-smoke")
print(json.dumps(facts), flush=True)
