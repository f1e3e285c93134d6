"""finmt_core: multi-task learning on market data (data, models, training, evaluation)."""

import os

# torch's CPU kernels run on a GNU OpenMP pool whose idle threads busy-spin by default. When
# more threads want the CPU than it has cores (a 2-core machine running the dashboard, a
# training job and its evaluation at once), the spinning threads steal the cores from the
# ones doing work and every parallel op waits for a descheduled thread: measured here, a
# GCNConv forward+backward went from ~5 ms to ~700 ms and training throughput fell 20x.
# Passive waiting (threads sleep until there is work) costs microseconds per parallel region
# when the machine is idle. It must be set before torch is first imported, and an explicit
# setting by the user wins. See docs/PERFORMANCE.md.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
