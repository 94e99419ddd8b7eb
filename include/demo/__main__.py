from include.demo.story import main

raise SystemExit(main())
