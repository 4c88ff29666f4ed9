/* fixture: stands for the emitted C reproducer of F5 */
int main(void) { return 0; }
