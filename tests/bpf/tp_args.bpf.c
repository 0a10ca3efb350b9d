// SPDX-License-Identifier: GPL-2.0
/*
 * sched_switch's arguments read through struct tp_args_sched_switch, the
 * context struct `dwarf2btf header --tp-structs` adds to vmlinux.h, instead
 * of BPF_PROG().  One program per argument, so the test can find each
 * argument's load from the context (r1) in the disassembly.
 */
#include "vmlinux.h"

#define SEC(name) __attribute__((section(name), used))

SEC("tp_btf/sched_switch")
int read_preempt(struct tp_args_sched_switch *ctx)
{
	return ctx->preempt;
}

SEC("tp_btf/sched_switch")
int read_prev(struct tp_args_sched_switch *ctx)
{
	return ctx->prev->pid;
}

SEC("tp_btf/sched_switch")
int read_next(struct tp_args_sched_switch *ctx)
{
	return ctx->next->pid;
}

SEC("tp_btf/sched_switch")
int read_prev_state(struct tp_args_sched_switch *ctx)
{
	return ctx->prev_state;
}

char LICENSE[] SEC("license") = "GPL";
