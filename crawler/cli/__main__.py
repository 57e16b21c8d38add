"""`python -m crawler.cli` runs the storewatch command."""

from crawler.cli.app import main

main()
