"""pcplab.kernel: the kernel services designs use, with no costs and no scheduling policy.

* :mod:`pcplab.kernel.ops` — the ops a design yields (the protocol).
* :mod:`pcplab.kernel.locks` — ``Spinlock``, ``Mutex``, ``LocalLockVar`` (names only).
* :mod:`pcplab.kernel.state` — ``Kernel``: CPUs, tasks, lock owners, RCU grace periods,
  workqueues, IPIs and CPU hotplug; ``execute``/``step`` give each op its meaning.  Both engines
  (checker and simulator) drive it.
"""
