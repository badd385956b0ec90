from runflow.entry import main

main()
