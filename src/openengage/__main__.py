from openengage.cli import main

main()
