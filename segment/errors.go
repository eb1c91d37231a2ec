package segment

import "errors"

// ErrClosed reports use of a segment, log, partition or broker after Close.
var ErrClosed = errors.New("commitlog: closed")
