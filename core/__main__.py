from certbench.core.cli import main

main()
