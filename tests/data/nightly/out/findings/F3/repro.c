/* fixture: stands for the emitted C reproducer of F3 */
int main(void) { return 0; }
