from kaibert.finetune.engine import main

main()
