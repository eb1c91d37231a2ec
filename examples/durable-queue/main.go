// Command durable-queue is a work queue that survives crashes. It puts 2000
// jobs on a topic, starts a worker process that takes jobs with a consumer
// group, writes each result to a results topic and commits after each batch,
// kills the worker with SIGKILL half-way, starts a new worker on the same
// data directory (which recovers the logs), and checks at the end that
// every job has a result: at-least-once, nothing lost. A job done just
// before the kill, but not yet committed, is done twice; the output counts
// those.
//
//	go run ./examples/durable-queue
package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/commitlog-go/commitlog"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/producer"
)

const (
	jobs      = 2000
	workerEnv = "COMMITLOG_DURABLE_QUEUE_WORKER_DIR"
)

func main() {
	if dir := os.Getenv(workerEnv); dir != "" {
		if err := worker(dir); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "durable-queue:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "commitlog-queue-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Enqueue the jobs, then let go of the directory for the workers.
	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	for _, t := range []string{"jobs", "results"} {
		if _, err := b.CreateTopic(t, commitlog.TopicConfig{Partitions: 4}); err != nil {
			return err
		}
	}
	p, err := producer.New(b, producer.Config{Fsync: true})
	if err != nil {
		return err
	}
	for i := 0; i < jobs; i++ {
		p.Send(ctx, &producer.Record{Topic: "jobs", Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	if err := b.Close(); err != nil {
		return err
	}
	fmt.Printf("enqueued %d jobs\n", jobs)

	// First worker: killed once it has done about a third of the jobs.
	if err := runWorker(dir, jobs/3); err != nil {
		return err
	}
	// Second worker: picks up from the committed offsets and finishes.
	if err := runWorker(dir, -1); err != nil {
		return err
	}

	b, err = commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	done := map[string]int{}
	c, err := consumer.New(b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(50 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	var tps []consumer.TopicPartition
	for i := int32(0); i < 4; i++ {
		tps = append(tps, consumer.TopicPartition{Topic: "results", Partition: i})
	}
	if err := c.Assign(tps); err != nil {
		return err
	}
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			break
		}
		for _, r := range recs {
			done[string(r.Value)]++
		}
	}
	twice := 0
	for i := 0; i < jobs; i++ {
		n := done[strconv.Itoa(i)]
		if n == 0 {
			return fmt.Errorf("job %d was lost", i)
		}
		if n > 1 {
			twice++
		}
	}
	fmt.Printf("all %d jobs done after a crash; %d done twice (processed, not yet committed when killed)\n", jobs, twice)
	return nil
}

// runWorker starts this program as a worker and, if killAfter >= 0, kills
// it with SIGKILL once it reports that many jobs done.
func runWorker(dir string, killAfter int) error {
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), workerEnv+"="+dir)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := cmd.Start(); err != nil {
		return err
	}
	sc := bufio.NewScanner(out)
	last := 0
	for sc.Scan() {
		n, err := strconv.Atoi(strings.TrimPrefix(sc.Text(), "done "))
		if err != nil {
			continue
		}
		last = n
		if killAfter >= 0 && n >= killAfter {
			_ = cmd.Process.Kill()
			break
		}
	}
	_, _ = cmd.Process.Wait()
	if killAfter >= 0 {
		fmt.Printf("worker killed (SIGKILL) after %d jobs\n", last)
	} else {
		fmt.Printf("second worker finished the queue (%d jobs in this run)\n", last)
	}
	return nil
}

// worker takes jobs until the queue is empty. For each poll it writes the
// results (acks=all, fsync) and then commits the jobs' offsets: a crash
// between the two repeats those jobs, never loses them.
func worker(dir string) error {
	ctx := context.Background()
	b, err := commitlog.Open(dir)
	if err != nil {
		return err
	}
	defer b.Close()
	p, err := producer.New(b, producer.Config{Fsync: true})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	c, err := consumer.New(b, consumer.Config{GroupID: "workers", AutoOffsetReset: consumer.ResetEarliest,
		EnableAutoCommit: new(false), MaxPollRecords: 50, FetchMaxWait: new(100 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if err := c.Subscribe([]string{"jobs"}, nil); err != nil {
		return err
	}
	done, idle := 0, 0
	for idle < 5 {
		recs, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			idle++
			continue
		}
		idle = 0
		futures := make([]*producer.Future, 0, len(recs))
		for _, r := range recs {
			futures = append(futures, p.Send(ctx, &producer.Record{Topic: "results", Key: r.Key, Value: r.Value}))
		}
		for _, f := range futures {
			if _, err := f.Wait(ctx); err != nil {
				return err
			}
		}
		if err := c.CommitSync(ctx, nil); err != nil {
			return err
		}
		done += len(recs)
		fmt.Printf("done %d\n", done)
	}
	return nil
}
