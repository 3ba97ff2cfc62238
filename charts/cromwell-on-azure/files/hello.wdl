version 1.0

# One task on one Batch node: proves Cromwell -> TES -> Batch (pool in the private subnet, start task, runner,
# image pull through the private registry) -> blob outputs -> Cromwell.
workflow hello {
  call say_hello
  output {
    String greeting = say_hello.greeting
  }
}

task say_hello {
  command <<<
    echo "hello from coa-lockdown"
  >>>
  output {
    String greeting = read_string(stdout())
  }
  runtime {
    cpu: 1
    memory: "1 GB"
    preemptible: false
  }
}
