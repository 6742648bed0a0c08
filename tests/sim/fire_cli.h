/*
 * fire_cli: `haravan-sim fire TOPIC --sample FILE [--url SIM_URL] [--org ORG]`,
 * a thin client of a running simulator's POST /sim/fire, for people
 * trying the connector by hand (make run) and for scripts.
 *
 * FILE is either a file name in the simulator's samples directory (sent as
 * "sample", read by the simulator) or a path containing '/' (read here; a
 * REST wrapper is taken off the same way, and the body sent as "body").
 * SIM_URL defaults to $HARAVAN_SIM_URL (stack.env).
 *
 * Ownership: nothing is kept.
 */
#ifndef HARAVAN_SIM_FIRE_CLI_H
#define HARAVAN_SIM_FIRE_CLI_H

/* Runs the command with argv[0] = "fire". Returns the exit status: 0 when
 * every delivery got a 2xx, 1 when one did not or there was none, 2 for a
 * usage error. */
int sim_fire_command(int argc, char **argv);

#endif
