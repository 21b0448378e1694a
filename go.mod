module github.com/kanna-cluster/kanna

go 1.26
