module github.com/greypm/grey

go 1.26.0

require (
	github.com/alecthomas/kong v1.17.0
	github.com/klauspost/compress v1.20.4
	github.com/ulikunitz/xz v0.5.17
)
