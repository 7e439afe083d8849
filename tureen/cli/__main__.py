from tureen.cli import main

main()
