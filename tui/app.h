/* The full-screen app. `kompress` with no subcommand on a terminal, or `kompress --open DIR`. */
#ifndef KP_APP_H
#define KP_APP_H

/* Runs the app until the user quits; returns the exit status. The terminal is restored on
 * every exit path. */
int kp_app_main(int argc, char **argv);

#endif
