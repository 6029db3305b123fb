/*
 * The input of stockguard-replay: a file, or standard input. When the feed
 * is read more than once (the filter-off comparison, a sweep), a pipe is
 * first copied to a temporary file so each run starts over.
 */
#ifndef REPLAY_INPUT_H
#define REPLAY_INPUT_H

#include <stdio.h>

struct input {
	FILE *f;
	const char *name;  /* for messages */
	int owned;         /* f is ours to close */
	int reread;        /* f is seekable (a file, or a pipe spooled): each run starts over */
};

/* Open @p path ("-": standard input); @p reread: it will be read more than once. 0, or EXIT_BAD. */
int input_open(struct input *in, const char *path, int reread);
/* Back to the start before a run. 0, or EXIT_BAD with a message. */
int input_rewind(struct input *in);
void input_close(struct input *in);

#endif
