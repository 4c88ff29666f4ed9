/* fixture: stands for the emitted C reproducer of F4 */
int main(void) { return 0; }
