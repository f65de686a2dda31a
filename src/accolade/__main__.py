from accolade.cli import main

main()
