module github.com/userprops/userprops/bench

go 1.26

require (
	github.com/tidwall/buntdb v1.3.0
	github.com/userprops/userprops v0.0.0
	go.etcd.io/bbolt v1.5.0
)

require (
	github.com/tidwall/btree v1.4.2 // indirect
	github.com/tidwall/gjson v1.14.3 // indirect
	github.com/tidwall/grect v0.1.4 // indirect
	github.com/tidwall/match v1.1.1 // indirect
	github.com/tidwall/pretty v1.2.0 // indirect
	github.com/tidwall/rtred v0.1.2 // indirect
	github.com/tidwall/tinyqueue v0.1.1 // indirect
	golang.org/x/sys v0.45.0 // indirect
)

replace github.com/userprops/userprops => ../
