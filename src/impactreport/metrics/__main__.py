"""Entry point of a text-metrics worker process (``python -m impactreport.metrics``): see :mod:`.pool`."""

from impactreport.metrics.pool import main

main()
