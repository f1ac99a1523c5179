"""A Jupyter kernel kept warm by the worker process and reset between reports.

The kernel runs in its own session (jupyter_client starts it with
``start_new_session``), so it and anything it starts form one process group
that can be killed as a whole. Between reports the user namespace is
cleared, figures are closed and the working directory, environment,
``sys.path`` and matplotlib settings are restored to what they were just
after start-up. What a reset cannot clear is state a template stores inside
an imported module; the kernel is therefore also replaced after
``MAX_REPORTS_PER_KERNEL`` reports.
"""

import logging
import os
import queue
import shutil
import signal
import threading
import time

import psutil
from jupyter_client import KernelManager

from . import tempdirs
from .exceptions import RenderError, RenderTimeout

logger = logging.getLogger(__name__)

# Replace the kernel now and then so module-level state cannot pile up; a
# start costs about 1.5 s, so this adds under 1 ms per report.
MAX_REPORTS_PER_KERNEL = 2000
START_TIMEOUT_SECONDS = 60
# How often a wait for kernel messages checks that the kernel is alive.
POLL_SECONDS = 0.25
# Figures are drawn 7 inches wide and shown at the text width (about 6.7
# inches on A4 with 2 cm margins): 130 dpi gives about 135 pixels per inch
# on paper, sharp in print, and a smaller PNG to encode, send and embed.
FIGURE_DPI = 130

# Runs once in a new kernel. It registers a private module holding the
# reset function and the baseline it restores; the name of that module
# never enters the user namespace.
_BOOTSTRAP = r"""
def __bootstrap():
    import ctypes, gc, io, os, sys, types
    import matplotlib
    import matplotlib.pyplot as plt
    import numpy  # noqa: F401  imported once so reports start warm
    import json  # noqa: F401
    from matplotlib_inline.backend_inline import set_matplotlib_formats

    ip = get_ipython()
    ip.run_line_magic("matplotlib", "inline")
    set_matplotlib_formats("png")
    ip.run_line_magic(
        "config",
        "InlineBackend.print_figure_kwargs = "
        "{'bbox_inches': 'tight', 'dpi': {FIGURE_DPI}}",
    )

    # Draw one throw-away figure so the first report does not pay for font
    # loading and lazy imports, and so what they create is frozen below.
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1], label="θ")
    ax.legend()
    ax.set_xlabel("x")
    fig.savefig(io.BytesIO(), format="png", dpi={FIGURE_DPI}, bbox_inches="tight")
    plt.close(fig)

    # Move everything alive now (IPython, numpy, matplotlib: about 100,000
    # objects) out of the collector's sight. %reset runs two full
    # collections; without this each took about 0.04 s, with it they only
    # look at what the last report created (about 1 ms). A frozen object is
    # never freed, which is right for modules that live as long as the kernel.
    gc.collect()
    gc.freeze()
    try:
        malloc_trim = ctypes.CDLL(None).malloc_trim
    except (AttributeError, OSError):  # not glibc
        malloc_trim = None

    support = types.ModuleType("_report_kernel_support")
    support.home = os.getcwd()
    support.environ = dict(os.environ)
    support.path = list(sys.path)
    support.rc = matplotlib.rcParams.copy()
    support.names = set(ip.user_ns)

    def reset():
        plt.close("all")
        ip.run_line_magic("reset", "-f")
        os.chdir(support.home)
        os.environ.clear()
        os.environ.update(support.environ)
        sys.path[:] = support.path
        dict.update(matplotlib.rcParams, support.rc)
        for name in set(ip.user_ns) - support.names:
            del ip.user_ns[name]
        leftover = sorted(set(ip.user_ns) - support.names)
        if leftover:
            raise RuntimeError(f"names survived the reset: {leftover}")
        if malloc_trim is not None:
            # Give the report's freed memory back to the system now, so the
            # kernel's footprint stays at its start-up size.
            malloc_trim(0)

    support.reset = reset
    sys.modules[support.__name__] = support

__bootstrap()
del __bootstrap
"""
_BOOTSTRAP = _BOOTSTRAP.replace("{FIGURE_DPI}", str(FIGURE_DPI))
_RESET = "__import__('_report_kernel_support').reset()"


class ExecutionResult:
    """What one execute request produced."""

    def __init__(self):
        self.outputs = []
        self.reply = None

    @property
    def error(self):
        """Return the error output, if the code raised."""
        for output in self.outputs:
            if output["output_type"] == "error":
                return output
        return None


class WarmKernel:
    """One python3 kernel, started on demand and killed with its process group."""

    def __init__(self):
        self.owner_pid = os.getpid()
        self.reports = 0
        # True while nothing of any report is left in the kernel.
        self.clean = False
        tempdirs.remove_orphans_once()
        self._dir = tempdirs.make("kernel")
        home = os.path.join(self._dir, "home")
        os.mkdir(home)
        env = dict(os.environ)
        env.update(
            {
                "IPYTHONDIR": os.path.join(self._dir, "ipython"),
                "MPLBACKEND": "module://matplotlib_inline.backend_inline",
                "PYDEVD_DISABLE_FILE_VALIDATION": "1",
                # One BLAS thread per worker: extra threads only add CPU time.
                "OMP_NUM_THREADS": "1",
                "OPENBLAS_NUM_THREADS": "1",
                "MKL_NUM_THREADS": "1",
            }
        )
        self.manager = KernelManager(
            kernel_name="python3",
            connection_file=os.path.join(self._dir, "kernel.json"),
            # Unix sockets in a private folder: no TCP port is opened at all.
            transport="ipc",
            ip=os.path.join(self._dir, "ipc"),
        )
        self.client = None
        self.pid = None
        try:
            self.manager.start_kernel(
                env=env,
                cwd=home,
                extra_arguments=["--HistoryManager.enabled=False"],
            )
            self.pid = self.manager.provisioner.process.pid
            self.client = self.manager.client()
            self.client.start_channels()
            self.client.wait_for_ready(timeout=START_TIMEOUT_SECONDS)
        except BaseException:
            self.kill()
            raise
        logger.info("Started report kernel pid=%s", self.pid)

    @property
    def connection_file(self):
        """Return the path of the kernel's connection file."""
        return self.manager.connection_file

    def is_alive(self):
        """Return whether the kernel process is still running."""
        return self.manager.has_kernel and self.manager.is_alive()

    def execute(self, code, deadline, user_expressions=None):
        """Run code and collect its outputs; raise RenderTimeout at the deadline."""
        result = ExecutionResult()
        msg_id = self.client.execute(
            code,
            silent=False,
            store_history=False,
            user_expressions=user_expressions or {},
            allow_stdin=False,
            stop_on_error=True,
        )
        while True:
            msg = self._next(self.client.get_iopub_msg, deadline)
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind = msg["msg_type"]
            content = msg["content"]
            if kind == "status" and content["execution_state"] == "idle":
                break
            if kind in ("stream", "display_data", "execute_result", "error"):
                result.outputs.append({"output_type": kind, **content})
            elif kind == "clear_output":
                result.outputs.clear()
        while True:
            msg = self._next(self.client.get_shell_msg, deadline)
            if msg.get("parent_header", {}).get("msg_id") == msg_id:
                result.reply = msg["content"]
                return result

    def _next(self, get, deadline):
        """Return the next message, checking the deadline and the kernel."""
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise RenderTimeout("the render exceeded its time limit")
            try:
                return get(timeout=min(POLL_SECONDS, remaining))
            except queue.Empty:
                if not self.is_alive():
                    raise RenderError("the report kernel died while running")

    def bootstrap(self, deadline):
        """Prepare a new kernel: warm imports and the reset function."""
        self._check(self.execute(_BOOTSTRAP, deadline), "start-up")
        self.clean = True

    def reset(self, deadline):
        """Clear everything a report left behind in the kernel."""
        self._check(self.execute(_RESET, deadline), "reset")
        self.clean = True

    def chdir(self, path, deadline):
        """Change the kernel's working directory."""
        code = f"__import__('os').chdir({os.fspath(path)!r})"
        self._check(self.execute(code, deadline), "chdir")

    @staticmethod
    def _check(result, step):
        error = result.error
        if error:
            raise RenderError(
                f"report kernel {step} failed: {error['ename']}: {error['evalue']}"
            )

    def kill(self):
        """Kill the kernel's process group and remove its files."""
        pid = self.pid
        if pid is not None and os.getpid() == self.owner_pid:
            kill_tree(pid)
        if self.client is not None:
            self.client.stop_channels()
        try:
            if self.manager.has_kernel:
                self.manager.provisioner.process.wait(timeout=5)
        except Exception:  # noqa: BLE001  the process is already gone
            pass
        self.manager.cleanup_resources(restart=False)
        shutil.rmtree(self._dir, ignore_errors=True)
        logger.info("Stopped report kernel pid=%s", pid)


def kill_tree(pid):
    """Kill a process, its process group and any descendant that left it."""
    try:
        descendants = psutil.Process(pid).children(recursive=True)
    except psutil.Error:
        descendants = []
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for child in descendants:
        try:
            child.kill()
        except psutil.Error:
            pass


_lock = threading.RLock()
_kernel = None


def acquire(deadline):
    """Return this process's warm kernel, starting a new one if needed."""
    global _kernel
    kernel = _kernel
    if kernel is not None and kernel.owner_pid != os.getpid():
        # Inherited through fork: the parent owns that kernel; start our own.
        kernel = _kernel = None
    if kernel is not None and (
        not kernel.is_alive() or kernel.reports >= MAX_REPORTS_PER_KERNEL
    ):
        discard()
        kernel = None
    if kernel is None:
        kernel = _kernel = WarmKernel()
        try:
            kernel.bootstrap(deadline)
        except BaseException:
            discard()
            raise
    return kernel


def discard():
    """Kill the warm kernel, if there is one."""
    global _kernel
    kernel, _kernel = _kernel, None
    if kernel is not None and kernel.owner_pid == os.getpid():
        kernel.kill()


def current():
    """Return the warm kernel of this process, or None."""
    return _kernel


def shutdown():
    """Stop the warm kernel; call this when the worker process exits."""
    with _lock:
        discard()


lock = _lock
