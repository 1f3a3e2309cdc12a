module github.com/offload-project/offload/tinygo-guest

go 1.24
