package dev.rrconv.internal.javaimpl;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.IntConsumer;

/**
 * Runs numbered tasks on the calling thread plus helpers from one shared, lazily created pool of
 * daemon threads (no threads are created per call).
 *
 * <p>Tasks are handed out dynamically, so which thread runs a task varies from call to call; callers
 * make results independent of that by having every task write its own disjoint outputs and compute
 * them in a fixed order. The caller waits until every task has completed (not until the helpers have
 * exited: a helper that starts late simply finds no work left).
 */
public final class Parallel {
    private static final Object LOCK = new Object();
    private static ThreadPoolExecutor pool;

    private Parallel() {}

    /**
     * Runs {@code body.accept(i)} for every {@code i} in {@code [0, tasks)}, on at most {@code threads}
     * threads (the caller is one of them). The first exception thrown by a task is rethrown here once
     * all tasks have stopped; tasks not yet started when it happened are skipped.
     *
     * @param tasks number of tasks
     * @param threads maximum number of threads, {@code >= 1}
     * @param body the task body
     */
    public static void forEach(int tasks, int threads, IntConsumer body) {
        int helpers = Math.min(threads, tasks) - 1;
        if (helpers <= 0) {
            for (int i = 0; i < tasks; i++) {
                body.accept(i);
            }
            return;
        }
        AtomicInteger next = new AtomicInteger();
        CountDownLatch done = new CountDownLatch(tasks);
        AtomicReference<Throwable> failure = new AtomicReference<>();
        Runnable worker = () -> drain(tasks, next, done, failure, body);
        ThreadPoolExecutor p = pool(helpers);
        for (int h = 0; h < helpers; h++) {
            p.execute(worker);
        }
        drain(tasks, next, done, failure, body);
        boolean interrupted = false;
        while (true) {
            try {
                done.await();
                break;
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        Throwable t = failure.get();
        if (t instanceof RuntimeException re) {
            throw re;
        }
        if (t instanceof Error err) {
            throw err;
        }
        if (t != null) {
            throw new IllegalStateException(t);
        }
    }

    private static void drain(int tasks, AtomicInteger next, CountDownLatch done, AtomicReference<Throwable> failure,
                              IntConsumer body) {
        int i;
        while ((i = next.getAndIncrement()) < tasks) {
            try {
                if (failure.get() == null) {
                    body.accept(i);
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            } finally {
                done.countDown();
            }
        }
    }

    private static ThreadPoolExecutor pool(int helpers) {
        synchronized (LOCK) {
            if (pool == null) {
                AtomicInteger count = new AtomicInteger();
                ThreadFactory factory = r -> {
                    Thread t = new Thread(r, "rrconv-java-" + count.incrementAndGet());
                    t.setDaemon(true);
                    return t;
                };
                pool = new ThreadPoolExecutor(helpers, helpers, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
                pool.allowCoreThreadTimeOut(true);
            } else if (pool.getMaximumPoolSize() < helpers) {
                pool.setMaximumPoolSize(helpers);
                pool.setCorePoolSize(helpers);
            }
            return pool;
        }
    }
}
