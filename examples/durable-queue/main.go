// Command durable-queue is a work queue that survives crashes. It puts 2000
// jobs on a topic, starts a worker process that takes jobs with a consumer
// group, writes each result to a results topic and commits after each batch,
// kills the worker with SIGKILL a third of the way, starts a new worker on
// the same data directory (which recovers the logs), and checks at the end
// that every job has a result: at-least-once, nothing lost. The kill comes
// at the worst moment, when the worker has written a batch's results but not
// yet committed the batch (it waits there to be killed, so that the kill
// lands there on every run): those jobs are done twice, the others once;
// the output counts them.
//
//	go run ./examples/durable-queue                                   # embedded
//	go run ./examples/durable-queue -bootstrap-server localhost:9092  # on Kafka
//
// On Kafka the workers connect to the cluster instead of opening the
// directory, and the topics and the group are named jobs-<run id>,
// results-<run id> and workers-<run id>. The killed worker leaves no
// LeaveGroup behind: the group waits for its session to expire
// (session.timeout.ms, 6 s here, the least a cluster accepts by default,
// group.min.session.timeout.ms) before it gives the new worker the
// partitions. A worker stops when the group's committed offsets have
// reached the end of every partition of the jobs topic: the queue is
// empty.
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
	"github.com/commitlog-go/commitlog/admin"
	"github.com/commitlog-go/commitlog/consumer"
	"github.com/commitlog-go/commitlog/examples/internal/exampleenv"
	"github.com/commitlog-go/commitlog/producer"
)

const (
	jobs       = 2000
	partitions = 4
	// The worker's environment: this program runs as a worker when
	// workerEnv is set. The others pass the run's backend and session
	// timeout on.
	workerEnv         = "COMMITLOG_DURABLE_QUEUE_WORKER_DIR"
	bootstrapEnv      = "COMMITLOG_DURABLE_QUEUE_BOOTSTRAP_SERVERS"
	runIDEnv          = "COMMITLOG_DURABLE_QUEUE_RUN_ID"
	sessionTimeoutEnv = "COMMITLOG_DURABLE_QUEUE_SESSION_TIMEOUT"
	crashAtEnv        = "COMMITLOG_DURABLE_QUEUE_CRASH_AT"
)

// sessionTimeout is the workers' session.timeout.ms: how long the group
// waits for a killed worker on Kafka. The tests shorten it on kfake.
var sessionTimeout = 6 * time.Second

func main() {
	if os.Getenv(workerEnv) != "" {
		if err := workerFromEnviron(); err != nil {
			fmt.Fprintln(os.Stderr, "worker:", err)
			os.Exit(1)
		}
		return
	}
	if err := run(exampleenv.Parse()); err != nil {
		fmt.Fprintln(os.Stderr, "durable-queue:", err)
		os.Exit(1)
	}
}

func run(env exampleenv.Env) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "commitlog-queue-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	// Enqueue the jobs, then let go of the directory for the workers.
	if env.Kafka() {
		fmt.Println("on", env)
	}
	b, err := env.Open(ctx, dir)
	if err != nil {
		return err
	}
	adm, err := admin.New(b)
	if err != nil {
		return err
	}
	jobsTopic, resultsTopic := env.Name("jobs"), env.Name("results")
	for _, t := range []string{jobsTopic, resultsTopic} {
		if err := adm.CreateTopic(ctx, t, commitlog.TopicConfig{Partitions: partitions}); err != nil {
			return err
		}
	}
	p, err := producer.New(b, producer.Config{Fsync: true})
	if err != nil {
		return err
	}
	for i := 0; i < jobs; i++ {
		p.Send(ctx, &producer.Record{Topic: jobsTopic, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	if err := p.Close(ctx); err != nil {
		return err
	}
	if err := b.Close(); err != nil {
		return err
	}
	fmt.Printf("enqueued %d jobs\n", jobs)

	// First worker: killed once it has done about a third of the jobs.
	pending, err := runWorker(ctx, dir, env, jobs/3)
	if err != nil {
		return err
	}
	// Second worker: picks up from the committed offsets and finishes.
	if _, err := runWorker(ctx, dir, env, -1); err != nil {
		return err
	}

	b, err = env.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	if adm, err = admin.New(b); err != nil {
		return err
	}
	done := map[string]int{}
	c, err := consumer.New(b, consumer.Config{AutoOffsetReset: consumer.ResetEarliest, FetchMaxWait: new(50 * time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	ends, err := adm.ListOffsets(ctx, resultsTopic)
	if err != nil {
		return err
	}
	var tps []consumer.TopicPartition
	for _, o := range ends {
		tps = append(tps, consumer.TopicPartition{Topic: resultsTopic, Partition: o.Partition})
	}
	if err := c.Assign(tps); err != nil {
		return err
	}
	// Read every partition of the results to its end.
	for {
		left := false
		for _, o := range ends {
			pos, err := c.Position(consumer.TopicPartition{Topic: resultsTopic, Partition: o.Partition})
			if err != nil {
				return err
			}
			left = left || pos < o.Latest
		}
		if !left {
			break
		}
		recs, err := c.Poll(ctx)
		if err != nil {
			return err
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
	if twice != pending {
		return fmt.Errorf("%d jobs done twice, want the %d the killed worker had not committed", twice, pending)
	}
	return nil
}

// runWorker starts this program as a worker on the run's backend and, if
// crashAt >= 0, kills it with SIGKILL once it reports that it has written
// the results of at least that many jobs, the last batch not committed; it
// returns the size of that batch. With crashAt < 0 the worker must finish
// the queue and exit cleanly.
func runWorker(ctx context.Context, dir string, env exampleenv.Env, crashAt int) (pending int, err error) {
	cmd := exec.CommandContext(ctx, os.Args[0])
	cmd.Env = append(os.Environ(),
		workerEnv+"="+dir,
		bootstrapEnv+"="+strings.Join(env.BootstrapServers, ","),
		runIDEnv+"="+env.RunID,
		sessionTimeoutEnv+"="+sessionTimeout.String(),
		crashAtEnv+"="+strconv.Itoa(crashAt))
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return 0, err
	}
	if err := cmd.Start(); err != nil {
		return 0, err
	}
	sc := bufio.NewScanner(out)
	last, killed := 0, false
	for sc.Scan() {
		if _, err := fmt.Sscanf(sc.Text(), "crash %d %d", &last, &pending); err == nil {
			_ = cmd.Process.Kill()
			killed = true
			break
		}
		_, _ = fmt.Sscanf(sc.Text(), "done %d", &last)
	}
	werr := cmd.Wait()
	switch {
	case killed:
		fmt.Printf("worker killed (SIGKILL) after %d jobs, the last %d not committed\n", last+pending, pending)
	case crashAt >= 0:
		return 0, fmt.Errorf("first worker ended after %d jobs, before it was to be killed: %v", last, werr)
	case werr != nil:
		return 0, fmt.Errorf("second worker: %w", werr)
	default:
		fmt.Printf("second worker finished the queue (%d jobs in this run)\n", last)
	}
	return pending, nil
}

// workerFromEnviron runs worker on the backend, names and session timeout
// the parent passed in the environment.
func workerFromEnviron() error {
	env := exampleenv.New(os.Getenv(bootstrapEnv))
	env.RunID = os.Getenv(runIDEnv)
	st, err := time.ParseDuration(os.Getenv(sessionTimeoutEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", sessionTimeoutEnv, err)
	}
	crashAt, err := strconv.Atoi(os.Getenv(crashAtEnv))
	if err != nil {
		return fmt.Errorf("%s: %w", crashAtEnv, err)
	}
	return worker(os.Getenv(workerEnv), env, st, crashAt)
}

// worker takes jobs until the queue is empty. For each poll it writes the
// results (acks=all, fsync) and then commits the jobs' offsets: a crash
// between the two repeats those jobs, never loses them. With crashAt >= 0
// it stops in that window once it has written the results of crashAt jobs,
// prints "crash <committed> <written, not committed>" and waits to be
// killed.
func worker(dir string, env exampleenv.Env, sessionTimeout time.Duration, crashAt int) error {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	b, err := env.Open(ctx, dir)
	if err != nil {
		return err
	}
	defer b.Close()
	adm, err := admin.New(b)
	if err != nil {
		return err
	}
	jobsTopic, resultsTopic, group := env.Name("jobs"), env.Name("results"), env.Name("workers")
	p, err := producer.New(b, producer.Config{Fsync: true})
	if err != nil {
		return err
	}
	defer p.Close(ctx)
	c, err := consumer.New(b, consumer.Config{GroupID: group, AutoOffsetReset: consumer.ResetEarliest,
		EnableAutoCommit: new(false), MaxPollRecords: 50, FetchMaxWait: new(100 * time.Millisecond),
		SessionTimeout: sessionTimeout, HeartbeatInterval: (sessionTimeout / 3).Truncate(time.Millisecond)})
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	if err := c.Subscribe([]string{jobsTopic}, nil); err != nil {
		return err
	}
	done := 0
	for {
		recs, err := c.Poll(ctx)
		if err != nil {
			return err
		}
		if len(recs) == 0 {
			empty, err := queueEmpty(ctx, adm, jobsTopic, group)
			if err != nil {
				return err
			}
			if empty {
				return nil
			}
			continue
		}
		futures := make([]*producer.Future, 0, len(recs))
		for _, r := range recs {
			futures = append(futures, p.Send(ctx, &producer.Record{Topic: resultsTopic, Key: r.Key, Value: r.Value}))
		}
		for _, f := range futures {
			if _, err := f.Wait(ctx); err != nil {
				return err
			}
		}
		if crashAt >= 0 && done+len(recs) >= crashAt {
			fmt.Printf("crash %d %d\n", done, len(recs))
			<-ctx.Done()
			return fmt.Errorf("not killed at the crash point: %w", ctx.Err())
		}
		if err := c.CommitSync(ctx, nil); err != nil {
			return err
		}
		done += len(recs)
		fmt.Printf("done %d\n", done)
	}
}

// queueEmpty reports whether the group has committed the end of every
// partition of the jobs topic.
func queueEmpty(ctx context.Context, adm *admin.Client, topic, group string) (bool, error) {
	ends, err := adm.ListOffsets(ctx, topic)
	if err != nil {
		return false, err
	}
	committed, err := adm.CommittedOffsets(ctx, group)
	if err != nil {
		return false, err
	}
	for _, o := range ends {
		if committed[admin.TopicPartition{Topic: topic, Partition: o.Partition}].Offset < o.Latest {
			return false, nil
		}
	}
	return true, nil
}
