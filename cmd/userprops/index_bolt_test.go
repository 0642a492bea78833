package main

import "github.com/userprops/userprops"

// The bolt store is what "userprops index" opens.
var _ indexKeeper = (*userprops.BoltStore)(nil)
