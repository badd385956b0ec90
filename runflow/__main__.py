from runflow.cli import main

main()
