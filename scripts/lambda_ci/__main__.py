from lambda_ci.cli import main

raise SystemExit(main())
